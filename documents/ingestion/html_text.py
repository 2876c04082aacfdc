"""HTML bytes: their encoding, their title, and their main text (documents.formats)."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Decode HTML bytes by the declared charset, the meta tag, UTF-8, or cp1252."""
    candidates = [declared] if declared else []
    # Valid UTF-8 is almost never anything else; a stale meta tag often is.
    candidates.append("utf-8")
    match = _CHARSET.search(data[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii"))
    for encoding in candidates:
        try:
            return data.decode(encoding or "utf-8")
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def html_title(data: bytes) -> str:
    """The page's <title>, whitespace collapsed, or ''."""
    node = LexborHTMLParser(decode_html(data)).css_first("title")
    return " ".join(node.text().split())[:255] if node is not None else ""


def html_to_text(data: bytes) -> str:
    """The readable main text of an HTML page, headings marked like Markdown."""
    from documents.ingestion.formats import html_text

    return html_text(decode_html(data))
