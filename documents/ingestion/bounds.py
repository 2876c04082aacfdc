"""How much work one document may cost: the limits extraction enforces.

A plain dataclass, so the extraction child process (documents.ingestion.child)
gets the limits without importing Django; `from_settings` reads them in the
worker or the web process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Bounds:
    """Limits on one document's extraction; defaults are the settings' defaults."""

    # The child process: address space and wall-clock (and CPU) seconds.
    memory_mb: int = 480
    time_s: int = 300
    # Text of any format, after extraction.
    max_chars: int = 60_000_000
    # PDF: pages, characters on one page, and the inflated size of one stream
    # (content, font or object stream; images are decoded only when rendered).
    pdf_max_pages: int = 2000
    pdf_max_page_chars: int = 200_000
    pdf_max_stream_mb: int = 32
    # DOCX: the archive's inflated size, one XML part's size, and XML nesting.
    docx_max_inflated_mb: int = 256
    docx_max_xml_mb: int = 32
    docx_max_xml_depth: int = 128
    # XLSX (the DOCX bounds apply to its zip and XML too): rows of all sheets
    # together, and cells of the area the sheets span (a reader allocates it).
    xlsx_max_rows: int = 100_000
    xlsx_max_cells: int = 2_000_000
    # HTML: elements nested deeper than this are flattened before parsing.
    html_max_depth: int = 512
    # A rendered PDF page image: at most this many pixels.
    render_max_pixels: int = 4_000_000
    # An image document: its declared pixels (width x height); more is refused
    # as a decompression bomb before any pixel is decoded.
    image_max_pixels: int = 40_000_000
    # OCR (documents.ingestion.ocr): on or off, a PDF page with fewer characters
    # of text layer than this is OCRed, at this resolution, with this many
    # ONNX Runtime threads, in an address space of at most ocr_memory_mb and
    # at most ocr_time_s CPU (and wall-clock) seconds for the whole document.
    ocr_enabled: int = 1
    ocr_min_page_chars: int = 20
    ocr_dpi: int = 200
    ocr_threads: int = 1
    ocr_memory_mb: int = 1536
    ocr_time_s: int = 1800

    @property
    def wall_s(self) -> int:
        """The child's time limit: the OCR budget where OCR may run."""
        return max(self.time_s, self.ocr_time_s) if self.ocr_enabled else self.time_s

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bounds:
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in data.items() if k in known})


# Setting name for each bound; every one is an integer environment variable.
SETTINGS = {
    "memory_mb": "EXTRACT_MEMORY_MB",
    "time_s": "EXTRACT_TIME_LIMIT_S",
    "max_chars": "EXTRACT_MAX_CHARS",
    "pdf_max_pages": "PDF_MAX_PAGES",
    "pdf_max_page_chars": "PDF_MAX_PAGE_CHARS",
    "pdf_max_stream_mb": "PDF_MAX_STREAM_MB",
    "docx_max_inflated_mb": "DOCX_MAX_INFLATED_MB",
    "docx_max_xml_mb": "DOCX_MAX_XML_MB",
    "docx_max_xml_depth": "DOCX_MAX_XML_DEPTH",
    "xlsx_max_rows": "XLSX_MAX_ROWS",
    "xlsx_max_cells": "XLSX_MAX_CELLS",
    "html_max_depth": "HTML_MAX_DEPTH",
    "render_max_pixels": "PAGE_IMAGE_MAX_PIXELS",
    "image_max_pixels": "IMAGE_MAX_PIXELS",
    "ocr_enabled": "OCR_ENABLED",
    "ocr_min_page_chars": "OCR_MIN_PAGE_CHARS",
    "ocr_dpi": "OCR_DPI",
    "ocr_threads": "OCR_THREADS",
    "ocr_memory_mb": "OCR_MEMORY_MB",
    "ocr_time_s": "OCR_TIME_LIMIT_S",
}


def from_settings() -> Bounds:
    """The bounds configured in Django settings (defaults where a setting is unset)."""
    # Imported here, not at the top: the extraction child imports this module
    # and must never load Django (no settings, no database, no secrets).
    from django.conf import settings

    defaults = Bounds()
    return Bounds(
        **{
            name: int(getattr(settings, setting, getattr(defaults, name)))
            for name, setting in SETTINGS.items()
        }
    )
