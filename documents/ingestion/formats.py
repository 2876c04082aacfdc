"""Extractors for DOCX, HTML and CSV: each turns bytes into Cairn's plain text.

Headings become Markdown headings (``# Title``), so the chunker's heading path works
the same for every format; tables become one line per row, cells joined by `` | ``.

Libraries: python-docx (MIT, pure Python over lxml) reads DOCX bodies in document
order; selectolax (MIT, Cython over the Lexbor HTML5 engine) parses HTML an order of
magnitude faster than BeautifulSoup and only builds a tree: no script runs, no
resource is fetched, nothing renders.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode

_SPACES = re.compile(r"[ \t\u00a0]+")
_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre)\s*(\d)$", re.IGNORECASE)


class FormatError(Exception):
    """A file of a known format that cannot be read; the message is for people."""


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _html_clean(text: str) -> str:
    """HTML collapses every run of white space, newlines included, to one space."""
    return " ".join(text.split())


# DOCX -----------------------------------------------------------------------


def is_docx(data: bytes) -> bool:
    """Tell whether a zip archive is a Word document (has word/document.xml)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def docx_text(data: bytes) -> str:
    """Headings, paragraphs and tables of a DOCX body, in document order."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types
        raise FormatError(f"The Word document is damaged ({exc}).") from exc
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = _clean(item.text)
            if not text:
                continue
            level = _docx_heading_level(item)
            blocks.append(f"{'#' * level} {text}" if level else text)
        elif isinstance(item, Table):
            blocks.extend(_docx_table(item))
    return "\n\n".join(blocks)


def _docx_heading_level(paragraph: Any) -> int:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(name.strip())
    return min(int(match.group(1)), 6) if match else 0


def _docx_table(table: Any) -> Iterator[str]:
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = _clean(cell.text.replace("\n", " "))
            # Merged cells repeat the same cell object; print the text once.
            if not cells or cells[-1] != text:
                cells.append(text)
        line = " | ".join(cells).strip(" |")
        if line:
            rows.append(line)
    if rows:
        yield "\n".join(rows)


# HTML -----------------------------------------------------------------------

# Never content: code, chrome and navigation around the article.
_HTML_DROP = (
    "script, style, noscript, template, iframe, object, embed, svg, canvas, "
    "nav, header, footer, aside, form, button, select, "
    "[role=navigation], [role=banner], [role=contentinfo], [role=search], "
    "[aria-hidden=true], [hidden]"
)
_HTML_MAIN = ("main", "[role=main]", "article", "#content", ".content", "body")
_HTML_BLOCK = frozenset(
    {"p", "div", "section", "li", "dd", "dt", "blockquote", "pre", "figcaption",
     "address", "td", "th", "caption", "summary"}
)  # fmt: skip
_HTML_HEADING = {f"h{n}": n for n in range(1, 7)}


def looks_like_html(head: bytes) -> bool:
    """Tell whether a file's first bytes are HTML markup."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        start.startswith((b"<!--", b"<?xml")) and b"<html" in head[:4096].lower()
    )


def html_text(markup: str) -> str:
    """The main content of an HTML page as text: headings, paragraphs, tables."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(markup)
    for node in tree.css(_HTML_DROP):
        node.decompose()
    root = None
    for selector in _HTML_MAIN:
        root = tree.css_first(selector)
        if root is not None and _clean(root.text(separator=" ")):
            break
    if root is None:
        root = tree.root
    if root is None:
        return ""
    blocks: list[str] = []
    _html_blocks(root, blocks)
    return "\n\n".join(block for block in blocks if block)


def _html_blocks(node: LexborNode, blocks: list[str]) -> None:
    """Walk the tree, emitting one text block per heading, paragraph and table."""
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            text = _html_clean(child.text(deep=False) or "")
            if text:
                _append_inline(blocks, text)
            continue
        if tag in _HTML_HEADING:
            text = _html_clean(child.text(separator=" "))
            if text:
                blocks.append(f"{'#' * _HTML_HEADING[tag]} {text}")
            blocks.append("")
        elif tag == "table":
            blocks.append(_html_table(child))
            blocks.append("")
        elif tag == "br":
            _append_inline(blocks, "\n")
        elif tag == "li":
            # A list item keeps its bullet, so the text reads as the list it was.
            blocks.append("-")
            _html_blocks(child, blocks)
            blocks.append("")
        elif tag in _HTML_BLOCK or tag in ("ul", "ol", "dl"):
            blocks.append("")
            _html_blocks(child, blocks)
            blocks.append("")
        else:
            _html_blocks(child, blocks)


def _append_inline(blocks: list[str], text: str) -> None:
    """Join inline text to the open block (an empty string opens a new one)."""
    if not blocks:
        blocks.append(text.strip())
        return
    last = blocks[-1]
    if text == "\n":
        blocks[-1] = last.rstrip(" ") + "\n"
    elif not last or last.endswith("\n"):
        blocks[-1] = last + text
    else:
        blocks[-1] = f"{last} {text}"


def _html_table(table: LexborNode) -> str:
    rows = []
    for row in table.css("tr"):
        cells = [_html_clean(cell.text(separator=" ")) for cell in row.css("th, td")]
        line = " | ".join(cells).strip(" |")
        if line:
            rows.append(line)
    return "\n".join(rows)


# CSV ------------------------------------------------------------------------


def csv_row_ends(text: str) -> list[int]:
    """Offsets just past each CSV record's last character (quotes respected).

    A newline inside a quoted field belongs to the record, so a record is never cut.
    """
    ends: list[int] = []
    quoted = False
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char == '"':
            quoted = not quoted
        elif char == "\n" and not quoted:
            ends.append(position)
        position += 1
    if not ends or text[ends[-1] + 1 :].strip():
        ends.append(length)
    return ends
