"""Voyage multimodal embeddings: images (with their OCR text) and queries, one space.

With VOYAGE_API_KEY and MULTIMODAL_EMBEDDING_MODEL (voyage-multimodal-3.5 by
default), each image document, and each rendered PDF page when
MULTIMODAL_EMBED_PDF_PAGES is on, is embedded through the SDK's
`multimodal_embed` as one interleaved input: its OCR text, then the image.
Vectors live in ImageVector under the model's name, apart from the text
spaces, and retrieval (search.retrieval) fuses their ranking with the others.
Requests keep within Voyage's documented limits: 1,000 inputs, 320,000 tokens
in all and 32,000 per input, an image counting one token per 560 pixels.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from voyageai.client import Client

from documents.remote.embeddings import count_tokens, voyage_call

MAX_INPUTS = 1000
MAX_REQUEST_TOKENS = 320_000
MAX_INPUT_TOKENS = 32_000
PIXELS_PER_TOKEN = 560
# The OCR text beside an image: enough to tell it apart, far inside one input.
MAX_TEXT_CHARS = 8000
# Our token count is an estimate; requests stay this far inside the budget.
SAFETY = 0.8


@dataclass(frozen=True)
class ImageInput:
    """One image to embed: PNG bytes, their size, and the text read from them."""

    png: bytes
    text: str = ""

    @property
    def size(self) -> tuple[int, int]:
        """Width and height from the PNG header (IHDR), nothing decoded."""
        if self.png[:8] != b"\x89PNG\r\n\x1a\n" or self.png[12:16] != b"IHDR":
            raise ValueError("not a PNG")
        width, height = struct.unpack(">II", self.png[16:24])
        return int(width), int(height)

    def tokens(self) -> int:
        width, height = self.size
        return count_tokens(self.text[:MAX_TEXT_CHARS]) + math.ceil(
            width * height / PIXELS_PER_TOKEN
        )

    def request_input(self) -> dict[str, list[dict[str, str]]]:
        """The input as the API takes it: text, then the image as a data URL."""
        content = []
        text = self.text[:MAX_TEXT_CHARS].strip()
        if text:
            content.append({"type": "text", "text": text})
        encoded = base64.b64encode(self.png).decode("ascii")
        content.append(
            {"type": "image_base64", "image_base64": f"data:image/png;base64,{encoded}"}
        )
        return {"content": content}


def enabled() -> bool:
    """Whether images get multimodal vectors here (a Voyage key and a model)."""
    return bool(settings.VOYAGE_API_KEY and settings.MULTIMODAL_EMBEDDING_MODEL)


def model() -> str:
    return str(settings.MULTIMODAL_EMBEDDING_MODEL)


def batches(items: Sequence[ImageInput]) -> list[list[ImageInput]]:
    """Pack inputs in order into requests by count and tokens."""
    budget = int(MAX_REQUEST_TOKENS * SAFETY)
    packed: list[list[ImageInput]] = []
    current: list[ImageInput] = []
    used = 0
    for item in items:
        cost = item.tokens()
        if current and (len(current) >= MAX_INPUTS or used + cost > budget):
            packed.append(current)
            current, used = [], 0
        current.append(item)
        used += cost
    if current:
        packed.append(current)
    return packed


class MultimodalEmbedder:
    """Voyage's multimodal model: images with their text, and text queries."""

    def __init__(self, *, api_key: str, base_url: str | None, model: str) -> None:
        self.name = model
        # Cairn retries (voyage_call) with backoff; the SDK's own would multiply.
        self._client = Client(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=120
        )

    def _embed(
        self, inputs: list[dict[str, object]], input_type: str
    ) -> list[list[float]]:
        result = voyage_call(
            lambda: self._client.multimodal_embed(
                inputs, model=self.name, input_type=input_type, truncation=True
            ),
            api="voyage_multimodal_embed",
        )
        return [list(map(float, vector)) for vector in result.embeddings]

    def embed_images(self, items: Sequence[ImageInput]) -> list[list[float]]:
        """One vector per image, in order."""
        vectors: list[list[float]] = []
        for batch in batches(items):
            inputs: list[dict[str, Any]] = [item.request_input() for item in batch]
            vectors.extend(self._embed(inputs, "document"))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._embed([{"content": [{"type": "text", "text": text}]}], "query")[0]


@lru_cache(maxsize=4)
def _cached(api_key: str, base_url: str | None, name: str) -> MultimodalEmbedder:
    return MultimodalEmbedder(api_key=api_key, base_url=base_url, model=name)


def embedder() -> MultimodalEmbedder:
    """The configured multimodal embedder (call only when enabled())."""
    return _cached(settings.VOYAGE_API_KEY, settings.VOYAGE_BASE_URL, model())


def forget_clients() -> None:
    """Drop the cached embedder, so changed settings take effect (tests)."""
    _cached.cache_clear()
