"""The fake Voyage multimodal endpoint and the real SDK: shape, limits, errors."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
import voyageai.error
from PIL import Image
from voyageai.client import Client as VoyageClient

from documents.remote import multimodal
from tests.fakes.voyage import FakeVoyage
from tests.images import image_file, png_declaring


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _image_input(png: bytes, text: str = "") -> dict[str, Any]:
    content: list[dict[str, str]] = [{"type": "text", "text": text}] if text else []
    content.append({"type": "image_base64", "image_base64": _data_url(png)})
    return {"content": content}


def test_images_and_text_embed_with_usage(voyage_client: VoyageClient) -> None:
    png = image_file(["Harbour Street permit"])
    result = voyage_client.multimodal_embed(
        [_image_input(png, "Harbour Street permit"), _image_input(png)],
        model="voyage-multimodal-3.5",
        input_type="document",
    )
    assert [len(v) for v in result.embeddings] == [1024, 1024]
    with Image.open(io.BytesIO(png)) as image:
        pixels = image.width * image.height
    assert result.image_pixels == 2 * pixels
    assert result.text_tokens > 0
    assert result.total_tokens == result.text_tokens + 2 * -(-pixels // 560)


def test_a_query_is_nearest_the_image_sent_with_its_words(
    voyage_client: VoyageClient,
) -> None:
    png = image_file(["x"])
    permit, other = voyage_client.multimodal_embed(
        [_image_input(png, "parking permit"), _image_input(png, "vacation policy")],
        model="voyage-multimodal-3.5",
        input_type="document",
    ).embeddings
    (query,) = voyage_client.multimodal_embed(
        [{"content": [{"type": "text", "text": "parking permit"}]}],
        model="voyage-multimodal-3.5",
        input_type="query",
    ).embeddings

    def dot(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert dot(query, permit) > dot(query, other)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([{"content": []}], "non-empty 'content'"),
        ([{"content": [{"type": "video_url", "video_url": "x"}]}], "'type' must be"),
        (
            [{"content": [{"type": "image_base64", "image_base64": "aGVsbG8="}]}],
            "must be a data URL",
        ),
        (
            [{"content": [{"type": "image_url", "image_url": "https://x/a.png"}]}],
            "does not fetch",
        ),
    ],
)
def test_malformed_inputs_are_refused(
    fake_voyage: FakeVoyage, inputs: list[Any], message: str
) -> None:
    # Raw requests: the SDK itself refuses some of these before sending.
    response = httpx.post(
        fake_voyage.base_url + "/multimodalembeddings",
        json={"inputs": inputs, "model": "voyage-multimodal-3.5"},
        headers={"Authorization": "Bearer k"},
    )
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_an_image_over_16_million_pixels_is_refused(
    voyage_client: VoyageClient,
) -> None:
    big = Image.new("L", (4001, 4000), 255)
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    with pytest.raises(
        voyageai.error.InvalidRequestError, match="than the limit of 16000000"
    ):
        voyage_client.multimodal_embed(
            [_image_input(buffer.getvalue())], model="voyage-multimodal-3.5"
        )


def test_a_request_over_320000_tokens_is_refused(voyage_client: VoyageClient) -> None:
    # 3000 x 3000 pixels is 16,072 tokens; twenty of them pass 320,000.
    big = Image.new("L", (3000, 3000), 255)
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    inputs = [_image_input(buffer.getvalue())] * 20
    with pytest.raises(voyageai.error.InvalidRequestError, match="320000"):
        voyage_client.multimodal_embed(inputs, model="voyage-multimodal-3.5")


def test_more_than_1000_inputs_are_refused(voyage_client: VoyageClient) -> None:
    inputs = [{"content": [{"type": "text", "text": "a"}]}] * 1001
    with pytest.raises(voyageai.error.InvalidRequestError, match="batch size limit"):
        voyage_client.multimodal_embed(inputs, model="voyage-multimodal-3.5")


def test_a_text_model_is_not_a_multimodal_one(voyage_client: VoyageClient) -> None:
    with pytest.raises(voyageai.error.InvalidRequestError, match="not supported"):
        voyage_client.multimodal_embed(
            [{"content": [{"type": "text", "text": "a"}]}], model="voyage-3.5"
        )


def test_a_bomb_sent_as_an_image_is_refused(voyage_client: VoyageClient) -> None:
    with pytest.raises(
        voyageai.error.InvalidRequestError, match="than the limit of 16000000"
    ):
        voyage_client.multimodal_embed(
            [_image_input(png_declaring(20_000, 20_000))],
            model="voyage-multimodal-3.5",
        )


def test_cairns_batches_stay_inside_the_request_budget() -> None:
    png = png_declaring(2000, 2000)  # 7,143 tokens by its header alone
    items = [multimodal.ImageInput(png, "caption")] * 100
    packed = multimodal.batches(items)
    assert sum(len(batch) for batch in packed) == 100
    for batch in packed:
        assert sum(item.tokens() for item in batch) <= multimodal.MAX_REQUEST_TOKENS
    assert len(packed) > 1


def test_rate_limits_are_retried_by_cairn(online: Any, fake_voyage: FakeVoyage) -> None:
    fake_voyage.fail_next(429, "rate_limit", "Too many requests", times=2)
    vector = multimodal.embedder().embed_query("parking permit")
    assert len(vector) == 1024
    calls = [r for r in fake_voyage.requests if r.path == "/v1/multimodalembeddings"]
    assert len(calls) == 3
