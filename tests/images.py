"""Images and scanned PDFs made in the test, with known text: no binary files kept."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw, ImageFont

FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}


def text_picture(lines: list[str], *, width: int = 900, size: int = 36) -> Image.Image:
    """Black text on white, one line under another, large enough to read."""
    font = ImageFont.load_default(size=size)
    height = 60 + int(size * 1.6) * len(lines)
    picture = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(picture)
    for number, line in enumerate(lines):
        draw.text((30, 30 + int(size * 1.6) * number), line, fill="black", font=font)
    return picture


def image_file(lines: list[str], kind: str = "png") -> bytes:
    """The lines as an image file of the kind (png, jpeg, gif, webp)."""
    buffer = io.BytesIO()
    picture = text_picture(lines)
    options = {"quality": 90} if kind in ("jpeg", "webp") else {}
    picture.save(buffer, format=FORMATS[kind], **options)
    return buffer.getvalue()


def blank_png(width: int = 400, height: int = 300) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def scanned_pdf(pages: list[list[str]], *, dpi: int = 150) -> bytes:
    """A PDF whose pages are only pictures of text (no text layer): a scan.

    An empty entry makes a blank page. Pillow wraps the pictures in the PDF.
    """
    pictures = [
        text_picture(lines, width=1200)
        if lines
        else Image.new("RGB", (1200, 900), "white")
        for lines in pages
    ]
    buffer = io.BytesIO()
    pictures[0].save(
        buffer, format="PDF", save_all=True, append_images=pictures[1:], resolution=dpi
    )
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes of PNG whose header claims width x height: a bomb.

    The pixel data is one compressed run of zeros, as a real bomb's would be;
    nothing in Cairn should get as far as inflating it.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 4096, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )
