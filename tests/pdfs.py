"""Small, real PDFs with known text on known pages, for tests."""

from __future__ import annotations

from tests.fakes import pdf


def make_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with one page per entry, each entry's lines drawn one under another."""
    return pdf.make_pdf(["\n".join(lines) for lines in pages])
