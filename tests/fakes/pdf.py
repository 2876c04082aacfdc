"""Tiny PDF helpers: write a text-only PDF and read page text back with pypdfium2."""

from __future__ import annotations

import threading

import pypdfium2 as pdfium

# PDFium is not thread-safe and the fake servers answer on many threads.
PDFIUM_LOCK = threading.Lock()


class PdfError(ValueError):
    """The bytes are not a PDF that PDFium can open (corrupt or encrypted)."""


def _pdf_string(line: str) -> str:
    """Escape a line for a PDF literal string in the Latin-1 Helvetica font."""
    line = line.encode("latin-1", "replace").decode("latin-1")
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str], *, heading: str = "", info_title: str = "") -> bytes:
    """Return a valid PDF with one page per string; newlines start new lines.

    heading, if given, opens the first page in 20-point type (the body is 11);
    info_title goes in the document information dictionary's /Title.
    """
    if not pages:
        raise ValueError("a PDF needs at least one page")
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
        if heading and i == 0:
            ops = ["BT", "/F1 20 Tf", "24 TL", "72 740 Td"]
            ops += [f"({_pdf_string(heading)}) Tj T*", "/F1 11 Tf", "14 TL"]
        ops += [f"({_pdf_string(line)}) Tj T*" for line in text.split("\n")]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            (
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                "/Resources << /Font << /F1 3 0 R >> >> "
                f"/Contents {5 + 2 * i} 0 R >>"
            ).encode()
        )
        objects.append(
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    info = b""
    if info_title:
        offsets.append(len(out))
        number = len(offsets)
        body = f"<< /Title ({_pdf_string(info_title)}) >>".encode("latin-1")
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        info = b" /Info %d 0 R" % number
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(offsets) + 1,
        info,
        xref,
    )
    return bytes(out)


def page_texts(data: bytes) -> list[str]:
    """Return the text of each page as PDFium extracts it (lines end in CRLF)."""
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise PdfError(str(exc)) from exc
        try:
            texts: list[str] = []
            for index in range(len(document)):
                page = document[index]
                textpage = page.get_textpage()
                texts.append(str(textpage.get_text_range()))
                textpage.close()
                page.close()
            return texts
        finally:
            document.close()
