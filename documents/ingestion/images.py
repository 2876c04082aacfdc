"""Image documents: type from the bytes, pixel bounds, OCR text and bounded renders.

PNG, JPEG, GIF and WebP are told apart by their magic numbers, never by name.
An image's declared width and height are checked before a pixel is decoded:
Pillow's MAX_IMAGE_PIXELS is set to IMAGE_MAX_PIXELS, so a small file that
declares a gigapixel (a decompression bomb) raises DecompressionBombError, or
its warning, which is turned into an error here, and is refused with a reason.
Everything in this module runs in the limited extraction child process
(documents.ingestion.child): decoding costs at most its memory and time.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageOps, UnidentifiedImageError

from documents.ingestion import kinds
from documents.ingestion.bounds import Bounds
from documents.ingestion.formats import FormatError

PNG = "image/png"
JPEG = "image/jpeg"
GIF = "image/gif"
WEBP = "image/webp"
IMAGE_TYPES = (PNG, JPEG, GIF, WEBP)
_FORMATS = {"PNG": PNG, "JPEG": JPEG, "GIF": GIF, "WEBP": WEBP}
# Claude refuses images longer than this on a side.
MAX_SIDE = 8000
_PIXELS = re.compile(r"\((\d+) pixels\)")


def sniff(head: bytes) -> str | None:
    """The image type of a file's first bytes, or None if it is not one of ours."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def _too_many(pixels: int, limit: int) -> FormatError:
    return FormatError(
        f"The image declares {pixels:,} pixels; Cairn reads images of at most "
        f"{limit:,} pixels (IMAGE_MAX_PIXELS). A file this small that claims so "
        "many pixels is a decompression bomb, so it was not decoded."
    )


@contextmanager
def opened(data: bytes, mime_type: str, *, max_pixels: int) -> Iterator[Image.Image]:
    """The image opened lazily (header only) and checked against the bounds."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        # Pillow warns past MAX_IMAGE_PIXELS and raises only past twice that.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(_FORMATS))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            found = _PIXELS.search(str(exc))
            raise _too_many(int(found.group(1)) if found else 0, max_pixels) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise FormatError(
                "The image is damaged and cannot be read (its header is not a "
                "valid PNG, JPEG, GIF or WebP).",
                kind=kinds.DAMAGED,
            ) from exc
    with image:
        if _FORMATS.get(image.format or "") != mime_type:
            raise FormatError(
                f"The image is damaged: its header says {image.format}, its first "
                f"bytes say {mime_type}.",
                kind=kinds.DAMAGED,
            )
        width, height = image.size
        if width * height > max_pixels:
            raise _too_many(width * height, max_pixels)
        if max(width, height) > MAX_SIDE:
            raise FormatError(
                f"The image is {width:,} x {height:,} pixels; Cairn reads images of "
                f"at most {MAX_SIDE:,} pixels a side (Claude's limit). Scale it down "
                "and upload it again."
            )
        yield image


def _decoded(image: Image.Image) -> Image.Image:
    """The first frame as RGB, turned upright by its EXIF orientation."""
    try:
        image.seek(0)
        upright = ImageOps.exif_transpose(image) or image
        if upright.mode in ("RGBA", "LA", "P", "PA"):
            # Transparent pixels read as white paper, not black.
            rgba = upright.convert("RGBA")
            canvas = Image.new("RGB", rgba.size, "white")
            canvas.paste(rgba, mask=rgba.getchannel("A"))
            return canvas
        return upright.convert("RGB")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise FormatError(
            "The image is damaged: its pixels cannot be decoded.", kind=kinds.DAMAGED
        ) from exc


def image_text(data: bytes, mime_type: str, *, bounds: Bounds) -> tuple[str, bool]:
    """The image's text by OCR, and whether OCR read any (OCR off: "", False)."""
    # Imported here: ONNX Runtime loads only for files that need OCR.
    from documents.ingestion import ocr

    with opened(data, mime_type, max_pixels=bounds.image_max_pixels) as image:
        picture = _decoded(image)
    if not bounds.ocr_enabled:
        return "", False
    text = ocr.recognise(picture, bounds=bounds)
    return text, bool(text.strip())


def render(data: bytes, mime_type: str, *, max_pixels: int, bounds: Bounds) -> bytes:
    """The image as PNG, scaled down to fit within max_pixels (a thumbnail, a page)."""
    with opened(data, mime_type, max_pixels=bounds.image_max_pixels) as image:
        picture = _decoded(image)
    width, height = picture.size
    if width * height > max_pixels:
        scale = (max_pixels / (width * height)) ** 0.5
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
