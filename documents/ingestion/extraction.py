"""Text extraction: detect a file's real type from its bytes and pull out its text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import charset_normalizer

from documents.ingestion import formats

PDF = "application/pdf"
TEXT = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
CSV = "text/csv"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

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
SUPPORTED_DESCRIPTION = "PDF, Word (.docx), HTML, CSV, plain text or Markdown"


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
    """A file that cannot become text; the message is shown to the user."""


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
    if head.lstrip(b"\x00\t\n\r ")[:5] == b"%PDF-" or head[:1024].find(b"%PDF-") >= 0:
        return PDF
    if extension == ".pdf":
        raise ExtractionError("The file is named .pdf but is not a PDF.")
    if head.startswith(b"PK\x03\x04") and (
        b"word/" in head or (extension == ".docx" and b"[Content_Types].xml" in head)
    ):
        return DOCX
    if extension == ".docx":
        raise ExtractionError("The file is named .docx but is not a Word document.")
    if extension == ".doc" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExtractionError(
            "Old Word (.doc) and Office binary files are not supported; "
            "save the file as .docx or PDF."
        )
    if any(head.startswith(magic) for magic in _BINARY_MAGIC) or b"\x00" in head[:8192]:
        raise ExtractionError(
            f"Unsupported file type: this looks like a binary file. "
            f"Cairn reads {SUPPORTED_DESCRIPTION}."
        )
    if formats.looks_like_html(head):
        return HTML
    if extension in TEXT_EXTENSIONS:
        return TEXT_EXTENSIONS[extension]
    if extension == "":
        return TEXT
    raise ExtractionError(
        f"Unsupported file type {extension!r}. Cairn reads {SUPPORTED_DESCRIPTION}."
    )


def extract(
    data: bytes,
    mime_type: str,
    *,
    on_page: Callable[[int, int], None] | None = None,
) -> Extracted:
    """Extract the text of a file whose type detect_mime_type returned."""
    if mime_type == PDF:
        return _extract_pdf(data, on_page=on_page)
    if mime_type in (TEXT, MARKDOWN, CSV):
        return Extracted(text=decode_text(data), mime_type=mime_type)
    if mime_type == DOCX:
        return _extracted(_from_format(formats.docx_text, data), mime_type)
    if mime_type == HTML:
        from documents.ingestion.html_text import html_to_text

        return _extracted(_from_format(html_to_text, data), mime_type)
    raise ExtractionError(f"Unsupported file type {mime_type}.")


def _from_format(reader: Callable[[Any], str], source: Any) -> str:
    try:
        return reader(source)
    except formats.FormatError as exc:
        raise ExtractionError(str(exc)) from exc


def _extracted(text: str, mime_type: str) -> Extracted:
    text = normalise(text)
    if not text.strip():
        raise ExtractionError("The file has no text.")
    return Extracted(text=text, mime_type=mime_type)


def decode_text(data: bytes) -> str:
    """Decode text of any common encoding into normalised str."""
    if not data.strip():
        raise ExtractionError("The file is empty.")
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_legacy(data)
    text = normalise(text)
    if not text.strip():
        raise ExtractionError("The file has no text.")
    return text


def _decode_legacy(data: bytes) -> str:
    """Decode non-UTF-8 bytes with the encoding charset-normalizer finds cleanest.

    Short Western text decodes without "chaos" in several code pages, and the
    detector then leans to Central European ones by coherence; Windows-1252 is
    by far the commonest legacy encoding, so it wins every tie on chaos.
    """
    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        raise ExtractionError("The file is not text in any encoding Cairn recognises.")
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


def _extract_pdf(
    data: bytes, *, on_page: Callable[[int, int], None] | None
) -> Extracted:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        reason = str(exc).lower()
        if "password" in reason:
            raise ExtractionError(
                "The PDF is encrypted with a password; upload an unlocked copy."
            ) from exc
        raise ExtractionError(
            f"The PDF is damaged and cannot be read ({exc})."
        ) from exc
    try:
        metadata_title = str(pdf.get_metadata_value("Title") or "")
    except Exception:  # a damaged info dictionary only costs the title
        metadata_title = ""
    try:
        total = len(pdf)
        if total == 0:
            raise ExtractionError("The PDF has no pages.")
        parts: list[str] = []
        page_starts: list[int] = []
        offset = 0
        heading = ""
        for index in range(total):
            page = pdf[index]
            textpage = page.get_textpage()
            if index == 0:
                heading = _largest_text(textpage)
            page_text = normalise(textpage.get_text_range()).strip("\n")
            textpage.close()
            page.close()
            if index:
                parts.append("\n\n")
                offset += 2
            page_starts.append(offset)
            parts.append(page_text)
            offset += len(page_text)
            if on_page is not None:
                on_page(index + 1, total)
    finally:
        pdf.close()
    text = "".join(parts)
    if not text.strip():
        raise ExtractionError(
            "The PDF has no text layer (it may be scanned images); "
            "run it through OCR and upload the result."
        )
    return Extracted(
        text=text,
        mime_type=PDF,
        page_starts=page_starts,
        metadata_title=metadata_title,
        heading=heading,
    )


HEADING_CHARS = 150


def _largest_text(textpage: Any) -> str:
    """The page's text in its largest font size (a cover's title or company).

    Runs of characters at that size are joined with spaces; text set in one
    size throughout gives nothing, as it has no heading to tell apart.
    """
    import pypdfium2.raw as pdfium_c

    count = min(textpage.count_chars(), 20_000)
    sizes = [round(pdfium_c.FPDFText_GetFontSize(textpage, i), 1) for i in range(count)]
    if not sizes or max(sizes) <= 0 or min(s for s in sizes if s > 0) == max(sizes):
        return ""
    largest = max(sizes)
    chars: list[str] = []
    for index, size in enumerate(sizes):
        if size == largest:
            chars.append(chr(pdfium_c.FPDFText_GetUnicode(textpage, index)))
        elif chars and chars[-1] != " ":
            chars.append(" ")
        if len(chars) > HEADING_CHARS:
            break
    return " ".join("".join(chars).split())[:HEADING_CHARS]


def render_pdf_page(data: bytes, page_number: int, *, scale: float = 1.5) -> bytes:
    """Render one page (1-based) of a PDF to PNG bytes."""
    import io

    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        if not 1 <= page_number <= len(pdf):
            raise IndexError(page_number)
        bitmap = pdf[page_number - 1].render(scale=scale)
        buffer = io.BytesIO()
        bitmap.to_pil().save(buffer, format="PNG")
        return buffer.getvalue()
    finally:
        pdf.close()
