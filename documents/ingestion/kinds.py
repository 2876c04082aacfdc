"""The codes of ingestion failure kinds, carried by the errors that raise them.

Plain strings in a module with no imports, so the extraction child process
(which never loads Django) can name a kind, and it crosses the process
boundary in the child's JSON header. documents.ingestion.failures gives each
code its message and says whether a retry can help.
"""

from __future__ import annotations

DAMAGED = "damaged"
ENCRYPTED = "encrypted"
SCANNED = "scanned"
# OCR read a scan or an image and found no text.
NO_TEXT_RECOGNISED = "no_text_recognised"
EMPTY = "empty"
UNSUPPORTED = "unsupported"
# Extraction's own words are shown: a bound the file passes (pages, size,
# memory, time), written for people, with what to do about it.
UNREADABLE = "unreadable"
URL_REFUSED = "url_refused"
URL_UNSUPPORTED = "url_unsupported"
URL_UNREACHABLE = "url_unreachable"
SERVICE = "service"
INTERNAL = "internal"
