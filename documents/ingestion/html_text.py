"""HTML bytes: their encoding, their title, and their main text (documents.formats)."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

from documents.ingestion.formats import flatten_deep, html_text

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# No page nests deeper; past it, tags are dropped before parsing (formats).
TITLE_MAX_DEPTH = 512


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """The encoding a byte-order mark announces and the mark's length, or None."""
    for mark, encoding in BOMS:
        if data.startswith(mark):
            return encoding, len(mark)
    return None


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Decode HTML bytes by BOM, the declared charset, the meta tag, UTF-8, cp1252."""
    bom = bom_encoding(data)
    if bom is not None:
        return data[bom[1] :].decode(bom[0], errors="replace")
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
    markup = flatten_deep(decode_html(data), TITLE_MAX_DEPTH)
    node = LexborHTMLParser(markup).css_first("title")
    return " ".join(node.text().split())[:255] if node is not None else ""


def html_to_text(data: bytes, *, max_depth: int = TITLE_MAX_DEPTH) -> str:
    """The readable main text of an HTML page, headings marked like Markdown."""
    return html_text(decode_html(data), max_depth=max_depth)
