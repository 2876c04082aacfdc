"""The fake Voyage API's POST /v1/multimodalembeddings, with Voyage's limits.

Inputs are ``{"content": [segment, ...]}`` with text, ``image_base64`` (a data
URL of PNG, JPEG, WebP or GIF) or ``image_url`` segments (refused here: the fake
fetches nothing). The documented limits hold: 1,000 inputs per request, 16
million pixels and 20 MB per image, an image costing one token per 560 pixels,
32,000 tokens per input and 320,000 per request. A text-only input is a query
or a caption; an image is embedded as the hash of its pixels plus the words of
any text beside it, so a query finds an image through the text sent with it
(a real model would also read the picture; this fake only tells pictures apart).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import math
import re
from dataclasses import dataclass
from typing import Any

from PIL import Image

from tests.fakes import voyage

MAX_INPUTS = 1000
MAX_INPUT_TOKENS = 32_000
MAX_REQUEST_TOKENS = 320_000
MAX_IMAGE_PIXELS = 16_000_000
MAX_IMAGE_BYTES = 20 * 1024 * 1024
PIXELS_PER_TOKEN = 560
_DATA_URL = re.compile(r"^data:image/(png|jpeg|webp|gif);base64,(.*)$", re.DOTALL)


@dataclass(frozen=True)
class MultimodalModel:
    """What one multimodal model accepts."""

    dimensions: tuple[int, ...]
    default_dimension: int


MODELS = {
    "voyage-multimodal-3": MultimodalModel((1024,), 1024),
    "voyage-multimodal-3.5": MultimodalModel((256, 512, 1024, 2048), 1024),
}


@dataclass
class Prepared:
    """One input, validated: its text, its images' digests and its cost."""

    text: str
    images: list[str]
    text_tokens: int
    pixels: int

    @property
    def tokens(self) -> int:
        return self.text_tokens + math.ceil(self.pixels / PIXELS_PER_TOKEN)


def _image(value: Any, where: str) -> tuple[str, int]:
    """Decode a data-URL image: (digest of its pixels, pixel count)."""
    found = _DATA_URL.match(value) if isinstance(value, str) else None
    if found is None:
        raise voyage.VoyageError(
            400,
            f"{where}: 'image_base64' must be a data URL of the form "
            "data:image/<png|jpeg|webp|gif>;base64,<data>.",
        )
    try:
        data = base64.b64decode(found.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise voyage.VoyageError(400, f"{where}: the base64 data is invalid.") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise voyage.VoyageError(
            400, f"{where}: the image is {len(data)} bytes, over the 20 MB limit."
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise voyage.VoyageError(
                    400,
                    f"{where}: the image has {width * height} pixels, more than "
                    f"the limit of {MAX_IMAGE_PIXELS}.",
                )
            digest = hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()
    except Image.DecompressionBombError:
        raise voyage.VoyageError(
            400,
            f"{where}: the image has more pixels than the limit of {MAX_IMAGE_PIXELS}.",
        ) from None
    except OSError:
        raise voyage.VoyageError(
            400, f"{where}: the image cannot be decoded."
        ) from None
    return digest, width * height


def _prepare(raw: Any, index: int, truncation: bool) -> Prepared:
    where = f"Input at index {index}"
    content = raw.get("content") if isinstance(raw, dict) else None
    if not isinstance(content, list) or not content or set(raw) != {"content"}:
        raise voyage.VoyageError(
            400, f"{where} must be an object with a non-empty 'content' list."
        )
    texts: list[str] = []
    images: list[str] = []
    pixels = 0
    for number, segment in enumerate(content):
        part = f"{where}, content {number}"
        kind = segment.get("type") if isinstance(segment, dict) else None
        if kind == "text" and isinstance(segment.get("text"), str):
            texts.append(segment["text"])
        elif kind == "image_base64":
            digest, count = _image(segment.get("image_base64"), part)
            images.append(digest)
            pixels += count
        elif kind == "image_url":
            raise voyage.VoyageError(400, f"{part}: this fake does not fetch URLs.")
        else:
            raise voyage.VoyageError(
                400, f"{part}: 'type' must be text, image_url or image_base64."
            )
    text = "\n".join(texts)
    prepared = Prepared(text, images, voyage.count_tokens(text), pixels)
    if prepared.tokens > MAX_INPUT_TOKENS:
        image_tokens = math.ceil(pixels / PIXELS_PER_TOKEN)
        if not truncation or image_tokens >= MAX_INPUT_TOKENS:
            raise voyage.VoyageError(
                400,
                f"{where} has {prepared.tokens} tokens, more than the context "
                f"length of {MAX_INPUT_TOKENS}.",
            )
        text = voyage.truncate_tokens(text, MAX_INPUT_TOKENS - image_tokens)
        prepared = Prepared(text, images, voyage.count_tokens(text), pixels)
    return prepared


def _vector(item: Prepared, input_type: str | None, dimension: int) -> list[float]:
    text = item.text + "".join(f" \x00image{digest}" for digest in item.images)
    return voyage.embed_text(text, input_type, dimension)


def multimodal_embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """Answer POST /v1/multimodalembeddings."""
    name = body.get("model")
    model = MODELS.get(name) if isinstance(name, str) else None
    if model is None:
        known = ", ".join(sorted(MODELS))
        raise voyage.VoyageError(
            400, f"Model {name} is not supported. Supported models: {known}"
        )
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise voyage.VoyageError(400, "Field 'inputs' must be a non-empty list.")
    if len(inputs) > MAX_INPUTS:
        raise voyage.VoyageError(
            400,
            f"The batch size limit is {MAX_INPUTS}. Your batch size is {len(inputs)}.",
        )
    input_type = body.get("input_type")
    if input_type not in (None, "query", "document"):
        raise voyage.VoyageError(
            400, "Value of 'input_type' must be None, 'query' or 'document'."
        )
    dimension = body.get("output_dimension") or model.default_dimension
    if dimension not in model.dimensions:
        raise voyage.VoyageError(
            400, f"Value of 'output_dimension' must be one of {model.dimensions}."
        )
    truncation = body.get("truncation", True) is not False
    prepared = [_prepare(raw, i, truncation) for i, raw in enumerate(inputs)]
    total = sum(item.tokens for item in prepared)
    if total > MAX_REQUEST_TOKENS:
        raise voyage.VoyageError(
            400,
            f"The batch has {total} tokens, more than the limit of "
            f"{MAX_REQUEST_TOKENS}. Send fewer or smaller inputs.",
        )
    base64_out = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(prepared):
        vector = _vector(item, input_type, dimension)
        embedding: Any = voyage.encode_base64(vector, "float") if base64_out else vector
        data.append({"object": "embedding", "embedding": embedding, "index": index})
    return {
        "object": "list",
        "data": data,
        "model": name,
        "usage": {
            "text_tokens": sum(item.text_tokens for item in prepared),
            "image_pixels": sum(item.pixels for item in prepared),
            "video_pixels": 0,
            "total_tokens": total,
        },
    }
