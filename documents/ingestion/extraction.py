"""Text extraction: detect a file's real type from its bytes and pull out its text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import charset_normalizer

from documents.ingestion import formats, images, kinds, pdf, sheets
from documents.ingestion.bounds import Bounds
from documents.ingestion.html_text import bom_encoding, html_to_text

PDF = "application/pdf"
TEXT = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
CSV = "text/csv"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Formats whose text is rows under a header: chunked, quoted and computed on
# as tables.
TABULAR = frozenset({CSV, XLSX})

TEXT_EXTENSIONS = {
    ".txt": TEXT,
    ".text": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".csv": CSV,
    ".tsv": CSV,
    ".html": HTML,
    ".htm": HTML,
}
SUPPORTED_DESCRIPTION = (
    "PDF, Word (.docx), Excel (.xlsx), HTML, CSV, plain text, Markdown or images "
    "(PNG, JPEG, GIF, WebP)"
)


def display_name(name: str) -> str:
    """Keep only the last path component of a client-supplied name, printable."""
    base = PurePath(name.replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:255] or "untitled"


# Magic numbers of common binary formats that must never be read as text.
_BINARY_MAGIC = (
    b"PK\x03\x04",  # zip, docx, xlsx
    b"\x89PNG",
    b"\xff\xd8\xff",  # jpeg
    b"GIF8",
    b"\x7fELF",
    b"MZ",
    b"\xd0\xcf\x11\xe0",  # ole2 (doc, xls)
    b"\x1f\x8b",  # gzip
    b"Rar!",
    b"7z\xbc\xaf",
)


class ExtractionError(Exception):
    """A file that cannot become text; the message is shown to the user.

    `kind` (documents.ingestion.kinds) chooses the plain message and whether a
    retry is offered; it never depends on the wording of the message.
    """

    def __init__(self, message: str, *, kind: str = kinds.UNREADABLE) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Extracted:
    """A document's text and, for PDFs, where each page starts in it."""

    text: str
    mime_type: str
    page_starts: list[int] = field(default_factory=list)
    # What the file says its title is (PDF metadata) and its first page's
    # largest text: inputs to the title search reads (ingestion.titles).
    metadata_title: str = ""
    heading: str = ""
    # Pages (1-based) whose text came from OCR, and pages OCR found no text on.
    ocr_pages: list[int] = field(default_factory=list)
    unreadable_pages: list[int] = field(default_factory=list)

    @property
    def pages(self) -> int | None:
        return len(self.page_starts) or None


def detect_mime_type(filename: str, head: bytes) -> str:
    """Return the supported MIME type of a file from its content, or raise.

    The bytes decide whether the file is a PDF, a Word document, HTML, text, or
    something Cairn does not read; the extension only chooses between text
    flavours (plain, Markdown, CSV). `head` may be the whole file or its start.
    """
    extension = PurePath(filename).suffix.lower()
    image = images.sniff(head)
    if image is not None:
        return image
    if head.lstrip(b"\x00\t\n\r ")[:5] == b"%PDF-" or head[:1024].find(b"%PDF-") >= 0:
        return PDF
    if extension == ".pdf":
        raise ExtractionError(
            "The file is named .pdf but is not a PDF.", kind=kinds.DAMAGED
        )
    if head.startswith(b"PK\x03\x04") and (
        b"word/" in head or (extension == ".docx" and b"[Content_Types].xml" in head)
    ):
        return DOCX
    if extension == ".docx":
        raise ExtractionError(
            "The file is named .docx but is not a Word document.", kind=kinds.DAMAGED
        )
    if sheets.is_xlsx(head) or (
        extension == ".xlsx" and head.startswith(b"PK\x03\x04")
    ):
        return XLSX
    if extension == ".xlsx":
        raise ExtractionError(
            "The file is named .xlsx but is not an Excel workbook.", kind=kinds.DAMAGED
        )
    if extension == ".xls":
        raise ExtractionError(
            "Old Excel (.xls) workbooks are not supported; save the file as .xlsx "
            "or CSV.",
            kind=kinds.UNSUPPORTED,
        )
    wide = _wide_text_head(head)
    if wide is not None:
        return _detect_text(extension, wide)
    if extension == ".doc" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExtractionError(
            "Old Word (.doc) and Office binary files are not supported; "
            "save the file as .docx or PDF.",
            kind=kinds.UNSUPPORTED,
        )
    if any(head.startswith(magic) for magic in _BINARY_MAGIC) or b"\x00" in head[:8192]:
        raise ExtractionError(
            f"Unsupported file type: this looks like a binary file. "
            f"Cairn reads {SUPPORTED_DESCRIPTION}.",
            kind=kinds.UNSUPPORTED,
        )
    return _detect_text(extension, head)


def _wide_text_head(head: bytes) -> bytes | None:
    """The start of UTF-16 or UTF-32 text with a byte-order mark, as UTF-8.

    Such text is full of NUL bytes, so the binary check would refuse it; its
    mark says it is text, believed only when the start decodes cleanly.
    """
    bom = bom_encoding(head)
    if bom is None or bom[0] == "utf-8":
        return None
    encoding, skip = bom
    width = 4 if "32" in encoding else 2
    sample = head[skip : skip + 1024]
    sample = sample[: len(sample) - len(sample) % width]
    # The sample may end inside a UTF-16 surrogate pair: allow one unit less.
    for end in (len(sample), len(sample) - 2):
        try:
            text = sample[: max(end, 0)].decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    if _CONTROL.search(text) or "\x00" in text:
        return None
    return text.encode()


def _detect_text(extension: str, head: bytes) -> str:
    if formats.looks_like_html(head):
        return HTML
    if extension in TEXT_EXTENSIONS:
        return TEXT_EXTENSIONS[extension]
    if extension == "":
        return TEXT
    raise ExtractionError(
        f"Unsupported file type {extension!r}. Cairn reads {SUPPORTED_DESCRIPTION}.",
        kind=kinds.UNSUPPORTED,
    )


def extract(
    data: bytes,
    mime_type: str,
    *,
    on_page: Callable[[int, int], None] | None = None,
    bounds: Bounds | None = None,
) -> Extracted:
    """Extract the text of a file whose type detect_mime_type returned.

    Every format keeps within `bounds` (pages, sizes, nesting), failing with a
    reason a person can read; the worker also runs this in a limited child
    process (documents.ingestion.sandbox) for whatever a bound cannot foresee.
    """
    bounds = bounds or Bounds()
    if mime_type == PDF:
        read = _from_format(
            lambda: pdf.pdf_text(
                data, bounds=bounds, normalise=normalise, on_page=on_page
            )
        )
        if not read.text.strip():
            if read.unreadable_pages:
                count = len(read.page_starts)
                raise ExtractionError(
                    f"No text could be recognised in the PDF: OCR read its {count} "
                    f"page{'s' if count != 1 else ''} and found none (blank, too "
                    "faint, or handwriting).",
                    kind=kinds.NO_TEXT_RECOGNISED,
                )
            raise ExtractionError(
                "The PDF has no text layer (it may be scanned images); "
                "run it through OCR and upload the result.",
                kind=kinds.SCANNED,
            )
        return Extracted(
            text=read.text,
            mime_type=PDF,
            page_starts=read.page_starts,
            metadata_title=read.metadata_title,
            heading=read.heading,
            ocr_pages=read.ocr_pages,
            unreadable_pages=read.unreadable_pages,
        )
    if mime_type in images.IMAGE_TYPES:
        return _image(data, mime_type, bounds)
    if mime_type in (TEXT, MARKDOWN, CSV):
        return _extracted(decode_text(data), mime_type, bounds)
    if mime_type == DOCX:
        text = _from_format(lambda: formats.docx_text(data, bounds))
        return _extracted(text, mime_type, bounds)
    if mime_type == HTML:
        text = _from_format(lambda: html_to_text(data, max_depth=bounds.html_max_depth))
        return _extracted(text, mime_type, bounds)
    if mime_type == XLSX:
        text = _from_format(lambda: sheets.xlsx_text(data, bounds))
        return _extracted(text, mime_type, bounds)
    raise ExtractionError(f"Unsupported file type {mime_type}.", kind=kinds.UNSUPPORTED)


def _image(data: bytes, mime_type: str, bounds: Bounds) -> Extracted:
    """An image is a one-page document whose text is its OCR text."""
    text, found = _from_format(
        lambda: images.image_text(data, mime_type, bounds=bounds)
    )
    if not bounds.ocr_enabled:
        raise ExtractionError(
            "Images are read by OCR, which is turned off here (OCR_ENABLED=0)."
        )
    if not found:
        raise ExtractionError(
            "No text could be recognised in the image: OCR found none (a photo, "
            "or text too small or faint). Cairn finds images by their text.",
            kind=kinds.NO_TEXT_RECOGNISED,
        )
    extracted = _extracted(text, mime_type, bounds)
    extracted.page_starts = [0]
    extracted.ocr_pages = [1]
    return extracted


def _from_format(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except formats.FormatError as exc:
        raise ExtractionError(str(exc), kind=exc.kind) from exc


def _extracted(text: str, mime_type: str, bounds: Bounds) -> Extracted:
    text = normalise(text)
    if not text.strip():
        raise ExtractionError("The file has no text.", kind=kinds.EMPTY)
    if len(text) > bounds.max_chars:
        raise ExtractionError(
            f"The file holds {len(text):,} characters of text; Cairn reads at most "
            f"{bounds.max_chars:,} per document. Split it into smaller files."
        )
    return Extracted(text=text, mime_type=mime_type)


def decode_text(data: bytes) -> str:
    """Decode text of any common encoding into normalised str."""
    if not data.strip():
        raise ExtractionError("The file is empty.", kind=kinds.EMPTY)
    bom = bom_encoding(data)
    if bom is not None:
        encoding, skip = bom
        text = data[skip:].decode(encoding, errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_legacy(data)
    text = normalise(text)
    if not text.strip():
        raise ExtractionError("The file has no text.", kind=kinds.EMPTY)
    return text


def _decode_legacy(data: bytes) -> str:
    """Decode non-UTF-8 bytes with the encoding charset-normalizer finds cleanest.

    Short Western text decodes without "chaos" in several code pages, and the
    detector then leans to Central European ones by coherence; Windows-1252 is
    by far the commonest legacy encoding, so it wins every tie on chaos.
    """
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        raise ExtractionError(
            "The file is not text in any encoding Cairn recognises.",
            kind=kinds.UNSUPPORTED,
        )
    best = min(match.chaos for match in matches)
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best + 0.01:
            return str(match)
    return str(matches[0])


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def normalise(text: str) -> str:
    """Unify newlines and drop control characters, so offsets stay stable."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    return _CONTROL.sub("", text)
