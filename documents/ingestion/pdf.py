"""PDF text and page images through PDFium, within a document's bounds.

PDFium inflates a page's content stream whole when the page loads, so a stream
that inflates to a gigabyte costs a gigabyte: `check_streams` measures every
compressed stream (streaming, nothing kept) before PDFium sees the file. Image
streams are left out: text extraction never decodes them, and rendering runs in
the limited child process at a bounded pixel size.
"""

from __future__ import annotations

import io
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from documents.ingestion import kinds
from documents.ingestion.bounds import Bounds
from documents.ingestion.formats import FormatError

_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_FLATE_FIRST = re.compile(rb"/Filter\s*(?:\[\s*)?/(?:FlateDecode|Fl)\b")
_DICT_LOOKBACK = 4096
_INPUT_BLOCK = 1 << 16
_OUTPUT_BLOCK = 1 << 20

PageText = Callable[[int, int], None]
HEADING_CHARS = 150


@dataclass(frozen=True)
class PdfText:
    """A PDF's text, where each page starts, and what it says its title is."""

    text: str
    page_starts: list[int]
    # The Title of the document information dictionary, and the first page's
    # largest text: inputs to the title search reads (ingestion.titles).
    metadata_title: str = ""
    heading: str = ""
    # Pages (1-based) whose text came from OCR, and pages OCR found nothing on.
    ocr_pages: list[int] = field(default_factory=list)
    unreadable_pages: list[int] = field(default_factory=list)


def check_streams(data: bytes, *, max_bytes: int) -> None:
    """Raise FormatError if any non-image Flate stream inflates past max_bytes."""
    view = memoryview(data)
    position = 0
    while True:
        match = _STREAM.search(data, position)
        if match is None:
            return
        head_start = data.rfind(
            b"obj", max(0, match.start() - _DICT_LOOKBACK), match.start()
        )
        head = data[max(head_start, 0) : match.start()]
        position = match.end()
        if b"/Image" in head or not _FLATE_FIRST.search(head):
            continue
        position += _inflated_size_within(view[position:], max_bytes)


def _inflated_size_within(compressed: memoryview, max_bytes: int) -> int:
    """Inflate a zlib stream without keeping it; return the input bytes it used.

    Raises FormatError as soon as the output passes max_bytes. A damaged stream
    ends the measurement quietly: PDFium decides what to make of it.
    """
    inflater = zlib.decompressobj()
    total = 0
    used = 0
    while used < len(compressed) and not inflater.eof:
        block = compressed[used : used + _INPUT_BLOCK]
        used += len(block)
        pending: bytes | memoryview = block
        while pending and not inflater.eof:
            try:
                total += len(inflater.decompress(pending, _OUTPUT_BLOCK))
            except zlib.error:
                return used
            if total > max_bytes:
                raise FormatError(
                    f"The PDF holds a stream that inflates to more than "
                    f"{max_bytes // 1048576} MB; it may be damaged or built to "
                    "exhaust the server, so Cairn does not read it.",
                    kind=kinds.DAMAGED,
                )
            pending = inflater.unconsumed_tail
    return used - len(inflater.unused_data)


def _open(data: bytes) -> Any:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise FormatError(
                "The PDF is encrypted with a password; upload an unlocked copy.",
                kind=kinds.ENCRYPTED,
            ) from exc
        raise FormatError(
            "The PDF is damaged and cannot be read (PDFium could not open it).",
            kind=kinds.DAMAGED,
        ) from exc


def pdf_text(
    data: bytes,
    *,
    bounds: Bounds,
    normalise: Callable[[str], str],
    on_page: PageText | None = None,
) -> PdfText:
    """The text of every page joined by blank lines, and where each page starts."""
    check_streams(data, max_bytes=bounds.pdf_max_stream_mb * 1048576)
    pdf = _open(data)
    try:
        total = len(pdf)
        if total == 0:
            raise FormatError("The PDF has no pages.", kind=kinds.DAMAGED)
        if total > bounds.pdf_max_pages:
            raise FormatError(
                f"The PDF has {total:,} pages; Cairn reads at most "
                f"{bounds.pdf_max_pages:,} pages per document. "
                "Split it into smaller files."
            )
        try:
            metadata_title = str(pdf.get_metadata_value("Title") or "")
        except Exception:  # a damaged info dictionary only costs the title
            metadata_title = ""
        heading = _first_page_heading(pdf)
        parts: list[str] = []
        page_starts: list[int] = []
        ocr_pages: list[int] = []
        unreadable: list[int] = []
        offset = 0
        for index in range(total):
            page_text = normalise(_page_text(pdf, index, bounds)).strip("\n")
            if (
                bounds.ocr_enabled
                and len(page_text.strip()) < bounds.ocr_min_page_chars
            ):
                recognised = normalise(_ocr_page(pdf, index, bounds)).strip("\n")
                if recognised.strip():
                    page_text = recognised
                    ocr_pages.append(index + 1)
                else:
                    unreadable.append(index + 1)
            if index:
                parts.append("\n\n")
                offset += 2
            page_starts.append(offset)
            parts.append(page_text)
            offset += len(page_text)
            if offset > bounds.max_chars:
                raise FormatError(
                    f"The PDF holds more than {bounds.max_chars:,} characters of "
                    "text; split it into smaller files."
                )
            if on_page is not None:
                on_page(index + 1, total)
    finally:
        pdf.close()
    return PdfText(
        "".join(parts), page_starts, metadata_title, heading, ocr_pages, unreadable
    )


def _first_page_heading(pdf: Any) -> str:
    page = pdf[0]
    textpage = page.get_textpage()
    try:
        return _largest_text(textpage)
    finally:
        textpage.close()
        page.close()


def _largest_text(textpage: Any) -> str:
    """The page's text in its largest font size (a cover's title or company).

    Runs of characters at that size are joined with spaces; text set in one
    size throughout gives nothing, as it has no heading to tell apart.
    """
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


def _page_text(pdf: Any, index: int, bounds: Bounds) -> str:
    page = pdf[index]
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count > bounds.pdf_max_page_chars:
            raise FormatError(
                f"Page {index + 1} of the PDF holds {count:,} characters; Cairn "
                f"reads at most {bounds.pdf_max_page_chars:,} per page."
            )
        return str(textpage.get_text_range())
    finally:
        textpage.close()
        page.close()


def _ocr_page(pdf: Any, index: int, bounds: Bounds) -> str:
    """A page without a text layer, rendered at OCR_DPI (within the pixel bound) and
    read by OCR."""
    # Imported here: ONNX Runtime loads only for a PDF that needs OCR.
    from documents.ingestion import ocr

    page = pdf[index]
    try:
        width, height = page.get_size()
        scale = min(
            bounds.ocr_dpi / 72,
            math.sqrt(bounds.render_max_pixels / max(width * height, 1.0)),
        )
        picture = page.render(scale=scale, grayscale=False).to_pil()
    finally:
        page.close()
    return ocr.recognise(picture, bounds=bounds)


def render_page(
    data: bytes, page_number: int, *, max_pixels: int, scale: float = 1.5
) -> bytes:
    """One page (1-based) as PNG, scaled down to fit within max_pixels."""
    pdf = _open(data)
    try:
        if not 1 <= page_number <= len(pdf):
            raise FormatError(f"The PDF has no page {page_number}.")
        page = pdf[page_number - 1]
        width, height = page.get_size()
        area = max(width * height, 1.0)
        # A 10000 x 10000 pt page at 1.5x would be 225 megapixels; cap the area.
        fitted = min(scale, math.sqrt(max_pixels / area))
        bitmap = page.render(scale=fitted)
        buffer = io.BytesIO()
        bitmap.to_pil().save(buffer, format="PNG")
        page.close()
        return buffer.getvalue()
    finally:
        pdf.close()
