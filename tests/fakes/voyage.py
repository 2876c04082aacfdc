"""Local fake of the Voyage AI embeddings, contextualized embeddings and rerank API.

Driven by the real SDK.

The ``voyageai`` SDK (0.5) builds request URLs as ``base_url + "/embeddings"`` by
plain string concatenation, so the base URL must include ``/v1`` and must not end
with a slash::

    fake = FakeVoyage().start()
    client = voyageai.Client(api_key="k", base_url=fake.base_url, max_retries=0)
    # fake.base_url == "http://127.0.0.1:<port>/v1"

A trailing slash gives ``/v1//embeddings``, which is a 404 here (as on a real
FastAPI-style server). Run standalone with ``python -m tests.fakes.voyage --port N``.

Tokens are counted like a subword tokenizer would (see ``_pieces``: letters by
six, digits by three, each mark one), not by Cairn's own estimate; limits
(texts per request, tokens per request, context length per text) are the
documented ones. Embeddings are a hashed bag of words and word bigrams, so texts
that share words are closer than texts that do not; they are deterministic
across processes (BLAKE2b, not ``hash()``), unit length, and Matryoshka-like:
every feature lands in each of the bands [0, 256), [256, 512), [512, 1024) and
[1024, 2048), so a shorter dimension is a re-normalized prefix of the full 2048-d
vector. Errors are ``{"detail": message}`` with Voyage's status codes.

The SDK asks for ``encoding_format="base64"`` unless told otherwise and decodes it
with NumPy (little-endian float32, int8 or uint8), so both encodings are served.

``/v1/contextualizedembeddings`` (``Client.contextualized_embed``) takes ``inputs``,
a list of documents, each a list of its chunks, and answers one list of chunk
embeddings per document. Its limits are the API reference's (docs.voyageai.com,
"Contextualized chunk embedding models"): at most 1,000 inputs, 120K tokens and
16K chunks per request; and the models page's context length of 32K tokens per
input without auto-chunking. A chunk's vector is its own features plus its
document's, scaled to half their weight, so a chunk is near queries naming what
only its document says; a one-chunk input is embedded as it would be alone.
``enable_auto_chunking`` is refused (the fake does not chunk; Cairn sends its
own chunks).
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import itertools
import json
import math
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from tests.fakes import _text
from tests.fakes._server import FakeHTTPServer, Incoming, Reply, json_reply

FULL_DIMENSION = 2048
# Several slots per band make the vectors dense enough for quantization to matter;
# distinct features still have an expected dot product of zero.
SLOTS_PER_BAND = 4
_BANDS = ((0, 256), (256, 512), (512, 1024), (1024, 2048))
MAX_TEXTS = 1000
MAX_RERANK_DOCUMENTS = 1000
# The prompts Voyage prepends for input_type (from its FAQ); here each becomes one
# feature, so queries and documents differ a little, as with the real models.
_PROMPT_FEATURE = {
    "query": "\x00prompt:query",
    "document": "\x00prompt:document",
}
_QUANTIZED = frozenset({"int8", "uint8", "binary", "ubinary"})


@dataclass(frozen=True)
class EmbedModel:
    """What one embedding model accepts."""

    dimensions: tuple[int, ...]
    default_dimension: int
    context_tokens: int
    batch_tokens: int
    quantization: bool


_FLEX = (256, 512, 1024, 2048)
EMBED_MODELS: dict[str, EmbedModel] = {
    "voyage-3.5": EmbedModel(_FLEX, 1024, 32_000, 320_000, True),
    "voyage-3.5-lite": EmbedModel(_FLEX, 1024, 32_000, 1_000_000, True),
    "voyage-3-large": EmbedModel(_FLEX, 1024, 32_000, 120_000, True),
    "voyage-code-3": EmbedModel(_FLEX, 1024, 32_000, 120_000, True),
    "voyage-finance-2": EmbedModel((1024,), 1024, 32_000, 120_000, False),
    "voyage-law-2": EmbedModel((1024,), 1024, 16_000, 120_000, False),
    # The voyage-4 family (the SDK ships a local voyage-4-nano) has the same shape.
    "voyage-4": EmbedModel(_FLEX, 1024, 32_000, 320_000, True),
    "voyage-4-lite": EmbedModel(_FLEX, 1024, 32_000, 1_000_000, True),
    "voyage-4-large": EmbedModel(_FLEX, 1024, 32_000, 120_000, True),
}


# Contextualized chunk embedding models (docs.voyageai.com/docs/
# contextualized-chunk-embeddings; voyage-context-4 is in preview there).
CONTEXT_MODELS: dict[str, EmbedModel] = {
    "voyage-context-3": EmbedModel(_FLEX, 1024, 32_000, 120_000, True),
    "voyage-context-4": EmbedModel(_FLEX, 1024, 32_000, 120_000, True),
}
MAX_CONTEXT_INPUTS = 1000
MAX_CONTEXT_CHUNKS = 16_000
# A document's share of its chunks' vectors, relative to the chunk's own features.
CONTEXT_WEIGHT = 0.5


@dataclass(frozen=True)
class RerankModel:
    """What one rerank model accepts, in tokens."""

    query_tokens: int
    pair_tokens: int
    total_tokens: int


RERANK_MODELS: dict[str, RerankModel] = {
    "rerank-2.5": RerankModel(8_000, 32_000, 600_000),
    "rerank-2.5-lite": RerankModel(8_000, 32_000, 600_000),
    "rerank-2": RerankModel(4_000, 16_000, 600_000),
    "rerank-2-lite": RerankModel(2_000, 8_000, 600_000),
}


class VoyageError(Exception):
    """An error answer: status and the `detail` message."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        """Keep status, message and extra headers."""
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


def _bad(detail: str) -> VoyageError:
    """Build a 400 error."""
    return VoyageError(400, detail)


def _pieces(text: str) -> list[tuple[int, int]]:
    """Token pieces as (end offset, count): BPE-like, not Cairn's estimate.

    A run of letters costs one token per started six letters, a run of digits
    one per started three digits (tokenizers split numbers), any other visible
    character one. Cairn's batching uses its own, coarser rule; this fake is
    the stricter judge, as the real tokenizer is.
    """
    found = []
    offset = 0
    for kind, group in itertools.groupby(text, _char_kind):
        run = len(list(group))
        offset += run
        if kind == "space":
            continue
        if kind == "mark":
            found += [(offset - run + i + 1, 1) for i in range(run)]
        else:
            found.append((offset, -(-run // (6 if kind == "letter" else 3))))
    return found


def _char_kind(char: str) -> str:
    if char.isalpha():
        return "letter"
    if char.isdigit():
        return "digit"
    return "space" if char.isspace() else "mark"


def count_tokens(text: str) -> int:
    """Count tokens the way this fake does (see _pieces)."""
    return sum(count for _, count in _pieces(text))


def truncate_tokens(text: str, limit: int) -> str:
    """Keep the text up to the piece that would pass `limit` tokens."""
    used = 0
    start = 0
    for end, count in _pieces(text):
        if used + count > limit:
            return text[:start]
        used += count
        start = end
    return text


@functools.lru_cache(maxsize=1 << 18)
def _slots(feature: str) -> tuple[tuple[int, float], ...]:
    """Hash a feature to a few signed slots in each Matryoshka band."""
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=64).digest()
    slots = []
    for band, (low, high) in enumerate(_BANDS):
        for k in range(SLOTS_PER_BAND):
            offset = (band * SLOTS_PER_BAND + k) * 4
            value = int.from_bytes(digest[offset : offset + 4], "little")
            sign = 1.0 if value & 1 else -1.0
            slots.append((low + (value >> 1) % (high - low), sign))
    return tuple(slots)


def _features(text: str, input_type: str | None) -> dict[str, float]:
    """Weighted features: words, word bigrams, and the input_type prompt."""
    tokens = _text.words(text)
    features: defaultdict[str, float] = defaultdict(float)
    for word, count in Counter(tokens).items():
        # Sublinear term frequency; stop words count for little.
        weight = (1.0 + math.log(count)) * (
            1.0 if _text.is_content_word(word) else 0.15
        )
        features["w:" + word] += weight
    for (first, second), count in Counter(itertools.pairwise(tokens)).items():
        if _text.is_content_word(first) or _text.is_content_word(second):
            features[f"b:{first} {second}"] += 0.5 * (1.0 + math.log(count))
    if not features:
        # Punctuation-only text still gets a stable, non-zero vector.
        features["raw:" + text.strip()] = 1.0
    if input_type in _PROMPT_FEATURE:
        total = math.sqrt(sum(w * w for w in features.values()))
        features[_PROMPT_FEATURE[input_type]] = 0.2 * total
    return features


def embed_text(text: str, input_type: str | None, dimension: int) -> list[float]:
    """Return the unit-length embedding of a text at the given dimension."""
    return _embed_features(_features(text, input_type), dimension)


def embed_in_context(
    chunks: list[str], input_type: str | None, dimension: int
) -> list[list[float]]:
    """Embed each chunk with its document's features at CONTEXT_WEIGHT."""
    if len(chunks) == 1:
        return [embed_text(chunks[0], input_type, dimension)]
    document = _features(" ".join(chunks), None)
    document_norm = math.sqrt(sum(w * w for w in document.values()))
    vectors = []
    for chunk in chunks:
        features = _features(chunk, input_type)
        norm = math.sqrt(sum(w * w for w in features.values()))
        scale = CONTEXT_WEIGHT * norm / document_norm
        mixed = defaultdict(float, features)
        for feature, weight in document.items():
            mixed[feature] += scale * weight
        vectors.append(_embed_features(mixed, dimension))
    return vectors


def _embed_features(features: dict[str, float], dimension: int) -> list[float]:
    """Hash weighted features into a unit vector of the given dimension."""
    full = [0.0] * FULL_DIMENSION
    for feature, weight in features.items():
        for slot, sign in _slots(feature):
            full[slot] += sign * weight
    vector = full[:dimension]
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        # Cancelled-out features: fall back to a fixed unit vector.
        vector[0], norm = 1.0, 1.0
    return [x / norm for x in vector]


def quantize(vector: list[float], dtype: str) -> list[int]:
    """Quantize a unit vector as Voyage documents for int8/uint8/binary/ubinary."""
    if dtype == "int8":
        return [max(-128, min(127, round(x * 127))) for x in vector]
    if dtype == "uint8":
        return [max(0, min(255, round(x * 127) + 128)) for x in vector]
    packed = []
    for i in range(0, len(vector), 8):
        byte = 0
        for x in vector[i : i + 8]:
            byte = (byte << 1) | (1 if x > 0 else 0)
        # Offset binary: 'binary' is the unsigned byte minus 128.
        packed.append(byte - 128 if dtype == "binary" else byte)
    return packed


def encode_base64(values: list[float] | list[int], dtype: str) -> str:
    """Encode an embedding as the SDK decodes it with numpy.frombuffer."""
    if dtype == "float":
        raw = struct.pack(f"<{len(values)}f", *values)
    elif dtype in ("int8", "binary"):
        raw = struct.pack(f"<{len(values)}b", *values)
    else:
        raw = struct.pack(f"<{len(values)}B", *values)
    return base64.b64encode(raw).decode("ascii")


def relevance(query: str, document: str) -> float:
    """Score a document for a query in [0, 1] from shared words and bigrams."""
    query_terms = _text.content_terms(query)
    if not query_terms:
        query_terms = set(_text.words(query))
    if not query_terms:
        return 0.0
    doc_words = _text.words(document)
    doc_terms = set(doc_words)
    coverage = len(query_terms & doc_terms) / len(query_terms)
    query_words = _text.words(query)
    query_bigrams = set(itertools.pairwise(query_words))
    bigram_bonus = 0.0
    if query_bigrams:
        shared = query_bigrams & set(itertools.pairwise(doc_words))
        bigram_bonus = len(shared) / len(query_bigrams)
    # Longer documents dilute a match a little, as a cross-encoder's would.
    density = len(query_terms & doc_terms) / math.sqrt(max(1, len(doc_terms)))
    score = 0.75 * coverage + 0.15 * bigram_bonus + 0.1 * min(1.0, density)
    return round(min(1.0, max(0.0, score)), 6)


class FakeVoyage(FakeHTTPServer):
    """Fake Voyage API (POST): /v1/embeddings, /v1/contextualizedembeddings,
    /v1/multimodalembeddings, /v1/rerank."""

    api_keys: set[str] | None

    def _reset_state(self) -> None:
        """Restore tunables to their defaults."""
        # None accepts any non-empty key; a set accepts only those keys.
        self.api_keys = None

    @property
    def base_url(self) -> str:
        """The base_url for voyageai.Client: includes /v1, no trailing slash."""
        return self.root_url + "/v1"

    def internal_error(self, incoming: Incoming) -> Reply:
        """Answer a bug in the fake the way Voyage answers a server fault."""
        return json_reply(500, {"detail": "Internal Server Error"})

    def route(self, incoming: Incoming) -> Reply:
        """Check the key, apply fail_next, then answer."""
        try:
            return self._route(incoming)
        except VoyageError as error:
            return json_reply(error.status, {"detail": error.detail}, error.headers)

    def _route(self, incoming: Incoming) -> Reply:
        """Route, authenticate and apply fail_next."""
        handlers = {
            "/v1/embeddings": self._embeddings,
            "/v1/contextualizedembeddings": self._contextualized_embeddings,
            "/v1/rerank": self._rerank,
            # In its own module (tests/fakes/voyage_multimodal.py).
            "/v1/multimodalembeddings": _multimodal_embeddings,
        }
        handler = handlers.get(incoming.path)
        if handler is None:
            raise VoyageError(404, "Not Found")
        if incoming.method != "POST":
            raise VoyageError(405, "Method Not Allowed")
        auth = incoming.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not key or (self.api_keys is not None and key not in self.api_keys):
            raise VoyageError(401, "Provided API key is invalid.")
        failure = self._take_failure(incoming.path, streaming=False)
        if failure is not None:
            raise VoyageError(failure.status, failure.message, failure.headers)
        try:
            body = json.loads(incoming.raw)
        except (ValueError, UnicodeDecodeError):
            raise _bad("Request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _bad("Request body must be a JSON object.")
        return json_reply(200, handler(body))

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer POST /v1/embeddings."""
        model_name = body.get("model")
        if not isinstance(model_name, str) or not model_name:
            raise _bad("Field 'model' is required.")
        model = EMBED_MODELS.get(model_name)
        if model is None:
            known = ", ".join(sorted(EMBED_MODELS))
            raise _bad(
                f"Model {model_name} is not supported. Supported models: {known}"
            )
        texts = _input_texts(body.get("input"))
        input_type = body.get("input_type")
        if input_type not in (None, "query", "document"):
            raise _bad("Value of 'input_type' must be None, 'query' or 'document'.")
        truncation = _flag(body, "truncation")
        dimension, dtype, encoding = _output_options(body, model, model_name)
        prepared = []
        total = 0
        for i, text in enumerate(texts):
            tokens = count_tokens(text)
            if tokens > model.context_tokens:
                if not truncation:
                    raise _bad(
                        f"Input at index {i} has {tokens} tokens, more than the "
                        f"context length of {model.context_tokens} for {model_name}. "
                        "Shorten it or set truncation=True."
                    )
                text = truncate_tokens(text, model.context_tokens)
                tokens = model.context_tokens
            prepared.append(text)
            total += tokens
        if total > model.batch_tokens:
            raise _bad(
                f"The batch has {total} tokens, more than the limit of "
                f"{model.batch_tokens} for {model_name}. Send fewer or shorter texts."
            )
        data = []
        for index, text in enumerate(prepared):
            vector = embed_text(text, input_type, dimension)
            values: list[float] | list[int] = (
                vector if dtype == "float" else quantize(vector, dtype)
            )
            embedding: Any = (
                encode_base64(values, dtype) if encoding == "base64" else values
            )
            data.append({"object": "embedding", "embedding": embedding, "index": index})
        return {
            "object": "list",
            "data": data,
            "model": model_name,
            "usage": {"total_tokens": total},
        }

    def _contextualized_embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer POST /v1/contextualizedembeddings: chunks embedded per document."""
        model_name = body.get("model")
        if not isinstance(model_name, str) or not model_name:
            raise _bad("Field 'model' is required.")
        model = CONTEXT_MODELS.get(model_name)
        if model is None:
            known = ", ".join(sorted(CONTEXT_MODELS))
            raise _bad(
                f"Model {model_name} is not supported by the contextualized "
                f"embeddings endpoint. Supported models: {known}"
            )
        if body.get("enable_auto_chunking"):
            raise _bad("This fake does not implement enable_auto_chunking.")
        documents = _context_inputs(body.get("inputs"))
        input_type = body.get("input_type")
        if input_type not in (None, "query", "document"):
            raise _bad("Value of 'input_type' must be None, 'query' or 'document'.")
        if input_type == "query" and any(len(chunks) > 1 for chunks in documents):
            raise _bad("Each query input must hold exactly one query.")
        dimension, dtype, encoding = _output_options(body, model, model_name)
        total = 0
        for i, chunks in enumerate(documents):
            tokens = sum(count_tokens(chunk) for chunk in chunks)
            if tokens > model.context_tokens:
                raise _bad(
                    f"Input at index {i} has {tokens} tokens, more than the "
                    f"context length of {model.context_tokens} for {model_name}."
                )
            total += tokens
        if total > model.batch_tokens:
            raise _bad(
                f"The request has {total} tokens, more than the limit of "
                f"{model.batch_tokens} for {model_name}."
            )
        data = []
        for index, chunks in enumerate(documents):
            vectors = embed_in_context(chunks, input_type, dimension)
            data.append(
                {
                    "object": "list",
                    "data": [
                        {
                            "object": "embedding",
                            "embedding": _encoded(vector, dtype, encoding),
                            "index": position,
                        }
                        for position, vector in enumerate(vectors)
                    ],
                    "index": index,
                }
            )
        return {
            "object": "list",
            "data": data,
            "model": model_name,
            "usage": {"total_tokens": total},
        }

    def _rerank(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer POST /v1/rerank."""
        model_name = body.get("model")
        if not isinstance(model_name, str) or not model_name:
            raise _bad("Field 'model' is required.")
        model = RERANK_MODELS.get(model_name)
        if model is None:
            known = ", ".join(sorted(RERANK_MODELS))
            raise _bad(
                f"Model {model_name} is not supported. Supported models: {known}"
            )
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise _bad("Field 'query' must be a non-empty string.")
        documents = body.get("documents")
        if not isinstance(documents, list) or not documents:
            raise _bad("Field 'documents' must be a non-empty list of strings.")
        if len(documents) > MAX_RERANK_DOCUMENTS:
            raise _bad(
                f"The number of documents ({len(documents)}) exceeds the limit of "
                f"{MAX_RERANK_DOCUMENTS}."
            )
        if not all(isinstance(d, str) and d.strip() for d in documents):
            raise _bad("Every document must be a non-empty string.")
        top_k = body.get("top_k")
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
        ):
            raise _bad("Value of 'top_k' must be a positive integer.")
        truncation = _flag(body, "truncation")
        return_documents = body.get("return_documents", False)
        if not isinstance(return_documents, bool):
            raise _bad("Value of 'return_documents' must be a boolean.")
        query_tokens = count_tokens(query)
        if query_tokens > model.query_tokens:
            if not truncation:
                raise _bad(
                    f"The query has {query_tokens} tokens, more than the limit of "
                    f"{model.query_tokens} for {model_name}."
                )
            query = truncate_tokens(query, model.query_tokens)
            query_tokens = model.query_tokens
        scored_texts = []
        total = 0
        for i, document in enumerate(documents):
            room = model.pair_tokens - query_tokens
            tokens = count_tokens(document)
            if tokens > room:
                if not truncation:
                    raise _bad(
                        f"Query and document {i} together have "
                        f"{query_tokens + tokens} tokens, more than the limit of "
                        f"{model.pair_tokens} for {model_name}."
                    )
                document = truncate_tokens(document, room)
                tokens = room
            scored_texts.append(document)
            total += query_tokens + tokens
        if total > model.total_tokens:
            raise _bad(
                f"The request has {total} tokens, more than the limit of "
                f"{model.total_tokens} for {model_name}."
            )
        ranked = sorted(
            ((relevance(query, text), i) for i, text in enumerate(scored_texts)),
            key=lambda pair: (-pair[0], pair[1]),
        )
        if top_k is not None:
            ranked = ranked[:top_k]
        results: list[dict[str, Any]] = []
        for score, index in ranked:
            result: dict[str, Any] = {"relevance_score": score, "index": index}
            if return_documents:
                result["document"] = documents[index]
            results.append(result)
        return {
            "object": "list",
            "data": results,
            "model": model_name,
            "usage": {"total_tokens": total},
        }


def _input_texts(value: Any) -> list[str]:
    """Validate the embeddings input into a list of texts."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise _bad("Field 'input' must be a string or a non-empty list of strings.")
    if len(texts) > MAX_TEXTS:
        raise _bad(
            f"The batch size limit is {MAX_TEXTS}. Your batch size is {len(texts)}."
        )
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise _bad(f"Input at index {i} must be a string.")
        if not text:
            raise _bad(f"Input at index {i} is an empty string.")
    return texts


def _context_inputs(value: Any) -> list[list[str]]:
    """Validate contextualized inputs: documents, each a non-empty list of chunks."""
    if not isinstance(value, list) or not value:
        raise _bad("Field 'inputs' must be a non-empty list of lists of strings.")
    if len(value) > MAX_CONTEXT_INPUTS:
        raise _bad(
            f"The number of inputs ({len(value)}) exceeds the limit of "
            f"{MAX_CONTEXT_INPUTS}."
        )
    chunks = 0
    for i, document in enumerate(value):
        if not isinstance(document, list) or not document:
            raise _bad(f"Input at index {i} must be a non-empty list of strings.")
        for j, chunk in enumerate(document):
            if not isinstance(chunk, str) or not chunk:
                raise _bad(f"Chunk {j} of input {i} must be a non-empty string.")
        chunks += len(document)
    if chunks > MAX_CONTEXT_CHUNKS:
        raise _bad(
            f"The total number of chunks ({chunks}) exceeds the limit of "
            f"{MAX_CONTEXT_CHUNKS}."
        )
    return value


def _output_options(
    body: dict[str, Any], model: EmbedModel, model_name: str
) -> tuple[int, str, str | None]:
    """Validate output_dimension, output_dtype and encoding_format."""
    dimension = body.get("output_dimension")
    if dimension is None:
        dimension = model.default_dimension
    if isinstance(dimension, bool) or not isinstance(dimension, int):
        raise _bad("Value of 'output_dimension' must be an integer.")
    if dimension not in model.dimensions:
        allowed = ", ".join(str(d) for d in model.dimensions)
        raise _bad(
            f"Value of 'output_dimension' must be one of {allowed} for model "
            f"{model_name}; got {dimension}."
        )
    dtype = body.get("output_dtype") or "float"
    if dtype not in ("float", *_QUANTIZED):
        raise _bad(
            "Value of 'output_dtype' must be 'float', 'int8', 'uint8', 'binary' "
            "or 'ubinary'."
        )
    if dtype != "float" and not model.quantization:
        raise _bad(f"Model {model_name} only supports output_dtype 'float'.")
    encoding = body.get("encoding_format")
    if encoding not in (None, "base64"):
        raise _bad("Value of 'encoding_format' must be None or 'base64'.")
    return dimension, dtype, encoding


def _encoded(vector: list[float], dtype: str, encoding: str | None) -> Any:
    """An embedding as the response carries it: quantized, maybe base64."""
    values: list[float] | list[int] = (
        vector if dtype == "float" else quantize(vector, dtype)
    )
    return encode_base64(values, dtype) if encoding == "base64" else values


def _flag(body: dict[str, Any], name: str) -> bool:
    """Read a boolean option that defaults to true."""
    value = body.get(name, True)
    if value is None:
        return True
    if not isinstance(value, bool):
        raise _bad(f"Value of '{name}' must be a boolean.")
    return value


def _multimodal_embeddings(body: dict[str, Any]) -> dict[str, Any]:
    # Imported here: that module builds on this one's errors and vectors.
    from tests.fakes.voyage_multimodal import multimodal_embeddings

    return multimodal_embeddings(body)


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on the given port until interrupted."""
    parser = argparse.ArgumentParser(description="Serve the fake Voyage AI API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    FakeVoyage(host=args.host, port=args.port).serve_until_interrupted()


if __name__ == "__main__":
    main()
