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
from typing import Any
from xml.parsers import expat

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph
from selectolax.lexbor import LexborHTMLParser, LexborNode

from documents.ingestion import kinds
from documents.ingestion.bounds import Bounds

_SPACES = re.compile(r"[ \t\u00a0]+")
_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre)\s*(\d)$", re.IGNORECASE)


class FormatError(Exception):
    """A file of a known format that cannot be read; the message is for people.

    `kind` (documents.ingestion.kinds) says what went wrong for the pages; a
    bound the file passes keeps the default, which shows the message itself.
    """

    def __init__(self, message: str, *, kind: str = kinds.UNREADABLE) -> None:
        super().__init__(message)
        self.kind = kind


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


def docx_text(data: bytes, bounds: Bounds | None = None) -> str:
    """Headings, paragraphs and tables of a DOCX body, in document order."""
    docx_check(data, bounds or Bounds())
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types
        raise FormatError(
            "The Word document is damaged: its parts cannot be read.",
            kind=kinds.DAMAGED,
        ) from exc
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


_DOCX_MAX_PARTS = 10_000


def docx_check(data: bytes, bounds: Bounds) -> None:
    """Refuse a DOCX whose parts inflate too far or nest too deep, before parsing."""
    office_check(data, bounds, noun="Word document")


def office_check(data: bytes, bounds: Bounds, *, noun: str) -> None:
    """Refuse an Office zip (DOCX, XLSX) that inflates too far or nests too deep.

    The sizes are the ones the zip declares; Python's zipfile never inflates a
    member past its declared size (a lie about it fails the CRC check), and the
    parsers read members through a zip reader that checks the same, so they
    bound what parsing gets.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise FormatError(
            f"The {noun} is damaged (not a zip archive).", kind=kinds.DAMAGED
        ) from exc
    with archive:
        members = archive.infolist()
        if len(members) > _DOCX_MAX_PARTS:
            raise FormatError(
                f"The {noun} has {len(members):,} parts; "
                f"Cairn reads documents of at most {_DOCX_MAX_PARTS:,}."
            )
        inflated = sum(member.file_size for member in members)
        if inflated > bounds.docx_max_inflated_mb * 1048576:
            raise FormatError(
                f"The {noun} inflates to {inflated / 1048576:,.0f} MB; Cairn "
                f"reads documents of at most {bounds.docx_max_inflated_mb} MB "
                "uncompressed (this may be a zip bomb)."
            )
        for member in members:
            if member.filename.lower().endswith((".xml", ".rels")):
                _docx_check_xml(archive, member, bounds, noun)


class _TooDeep(Exception):
    pass


class _HasDoctype(Exception):
    pass


def _docx_check_xml(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    bounds: Bounds,
    noun: str,
) -> None:
    """Stream one XML part through expat, counting depth; nothing is kept."""
    name = member.filename
    if member.file_size > bounds.docx_max_xml_mb * 1048576:
        raise FormatError(
            f"The {noun}'s part {name} is "
            f"{member.file_size / 1048576:,.0f} MB of XML; Cairn reads parts of at "
            f"most {bounds.docx_max_xml_mb} MB."
        )
    parser = expat.ParserCreate()
    depth = 0

    def start(tag: str, attributes: Any) -> None:
        nonlocal depth
        depth += 1
        if depth > bounds.docx_max_xml_depth:
            raise _TooDeep

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1

    def doctype(*args: Any) -> None:
        raise _HasDoctype

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    # Office XML never declares a DTD; one here can only carry entity tricks.
    parser.StartDoctypeDeclHandler = doctype
    try:
        with archive.open(member) as stream:
            while block := stream.read(1 << 16):
                parser.Parse(block, False)
            parser.Parse(b"", True)
    except _TooDeep:
        raise FormatError(
            f"The {noun}'s XML ({name}) nests elements more than "
            f"{bounds.docx_max_xml_depth} levels deep; Cairn does not read it."
        ) from None
    except _HasDoctype:
        raise FormatError(
            f"The {noun}'s XML ({name}) declares a DTD, which Office never "
            "writes; Cairn does not read it."
        ) from None
    except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FormatError(
            f"The {noun} is damaged: {name} cannot be read.", kind=kinds.DAMAGED
        ) from exc


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


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")
# Elements that never nest (void), or that the next sibling closes.
_HTML_FLAT = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
     "param", "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th",
     "option", "optgroup", "rb", "rt", "rp", "thead", "tbody", "tfoot", "colgroup"}
)  # fmt: skip


def flatten_deep(markup: str, max_depth: int) -> str:
    """Drop the tags of elements nested deeper than max_depth; their text stays.

    An HTML5 tree builder walks its stack of open elements for many start tags,
    so 200,000 nested <div>s cost Lexbor minutes (quadratic); browsers cap the
    depth too (Blink at 512). The count is an estimate, which is all a bound
    needs: tags that close themselves or never nest are not counted.
    """
    if markup.count("<") <= max_depth:
        return markup
    depth = 0

    def visit(match: re.Match[str]) -> str:
        nonlocal depth
        closing, name, self_closing = match.groups()
        if self_closing or name.lower() in _HTML_FLAT:
            return match.group()
        if closing:
            depth -= 1
            if depth >= max_depth:
                return " "
            depth = max(depth, 0)
            return match.group()
        depth += 1
        return " " if depth > max_depth else match.group()

    return _TAG.sub(visit, markup)


def html_text(markup: str, *, max_depth: int = 512) -> str:
    """The main content of an HTML page as text: headings, paragraphs, tables."""
    tree = LexborHTMLParser(flatten_deep(markup, max_depth))
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


def _html_blocks(root: LexborNode, blocks: list[str]) -> None:
    """Walk the tree, emitting one text block per heading, paragraph and table.

    An explicit stack, not recursion: how deep a page nests never matters. A
    string on the stack is a block to emit once the element before it is done.
    """
    stack: list[Iterator[LexborNode] | str] = [root.iter(include_text=True)]
    while stack:
        top = stack[-1]
        if isinstance(top, str):
            stack.pop()
            blocks.append(top)
            continue
        child = next(top, None)
        if child is None:
            stack.pop()
            continue
        tag = child.tag
        if tag == "-text":
            text = _html_clean(child.text(deep=False) or "")
            if text:
                _append_inline(blocks, text)
        elif tag in _HTML_HEADING:
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
            stack += ["", child.iter(include_text=True)]
        elif tag in _HTML_BLOCK or tag in ("ul", "ol", "dl"):
            blocks.append("")
            stack += ["", child.iter(include_text=True)]
        else:
            stack.append(child.iter(include_text=True))


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
