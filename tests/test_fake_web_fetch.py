"""The fake Anthropic's web fetch tool is strict like the real API."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.fakes.anthropic import FakeAnthropic

MODEL = "claude-sonnet-4-6"


def _tool(**extra: Any) -> dict[str, Any]:
    return {"type": "web_fetch_20260318", "name": "web_fetch"} | extra


def _create(
    client: anthropic.Anthropic,
    text: str,
    tools: list[dict[str, Any]],
) -> dict[str, Any]:
    message = client.messages.create(
        model=MODEL,
        max_tokens=500,
        messages=[{"role": "user", "content": text}],
        tools=tools,  # type: ignore[arg-type]
    )
    result: dict[str, Any] = message.model_dump(mode="json")
    return result


@pytest.mark.parametrize(
    ("tool", "needle"),
    [
        (_tool(allowed_domains=["a.com"], blocked_domains=["b.com"]), "both"),
        (_tool(name="fetch"), "name"),
        (_tool(type="web_fetch_20990101"), "type"),
        (_tool(allowed_domains=["https://a.com"]), "scheme"),
        (_tool(max_uses=0), "max_uses"),
        (_tool(citations=True), "citations"),
        (_tool(surprise=1), "surprise"),
        (_tool(type="web_fetch_20250910", use_cache=False), "use_cache"),
        (_tool(type="web_fetch_20260309", response_inclusion="full"), "response"),
        (_tool(use_cache="no"), "use_cache"),
        (_tool(response_inclusion="some"), "response_inclusion"),
    ],
)
def test_bad_tool_definitions_are_rejected(
    anthropic_client: anthropic.Anthropic,
    tool: dict[str, Any],
    needle: str,
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        _create(anthropic_client, "Read https://a.com/x", [tool])
    assert needle in str(caught.value)


def test_two_tools_with_one_name_are_rejected(
    anthropic_client: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="unique"):
        _create(anthropic_client, "Read https://a.com/x", [_tool(), _tool()])


def test_it_fetches_only_urls_of_the_conversation_and_cites_them(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.web_pages["https://a.com/llamas"] = (
        "Llamas",
        "Llamas eat grass and hay. They live in the Andes.",
    )
    fake_anthropic.web_pages["https://a.com/other"] = ("Other", "Never fetched.")
    message = _create(
        anthropic_client,
        "What do llamas eat? https://a.com/llamas",
        [_tool(citations={"enabled": True})],
    )
    kinds = [block["type"] for block in message["content"]]
    assert kinds[:2] == ["server_tool_use", "web_fetch_tool_result"]
    use, result = message["content"][:2]
    assert use["input"] == {"url": "https://a.com/llamas"}
    assert result["tool_use_id"] == use["id"]
    fetched = result["content"]
    assert fetched["type"] == "web_fetch_result"
    assert fetched["url"] == "https://a.com/llamas"
    assert fetched["retrieved_at"].endswith("Z")
    assert fetched["content"]["source"]["data"].startswith("Llamas eat grass")
    citations = [c for b in message["content"] for c in b.get("citations") or []]
    assert citations
    text = "Llamas eat grass and hay. They live in the Andes."
    for citation in citations:
        assert citation["document_index"] == 0
        assert citation["document_title"] == "Llamas"
        start, end = citation["start_char_index"], citation["end_char_index"]
        assert text[start:end] == citation["cited_text"]
    assert message["usage"]["server_tool_use"]["web_fetch_requests"] == 1


def test_domain_lists_max_uses_and_homographs_give_error_codes(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    for url in ("https://docs.a.com/p", "https://a.com/q", "https://b.com/r"):
        fake_anthropic.web_pages[url] = ("Page", "Some page text here.")
    message = _create(
        anthropic_client,
        "Read https://docs.a.com/p https://b.com/r https://аа.com/s https://a.com/q",
        [_tool(allowed_domains=["a.com"], max_uses=3)],
    )
    results = [
        block["content"]
        for block in message["content"]
        if block["type"] == "web_fetch_tool_result"
    ]
    assert [r.get("error_code") for r in results] == [
        None,
        "url_not_allowed",
        "url_not_allowed",
        "max_uses_exceeded",
    ]
    assert results[1]["type"] == "web_fetch_tool_result_error"


def test_max_content_tokens_truncates_the_page(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.web_pages["https://a.com/long"] = ("Long", "word " * 5000)
    message = _create(
        anthropic_client,
        "Summarise https://a.com/long",
        [_tool(max_content_tokens=100)],
    )
    data = message["content"][1]["content"]["content"]["source"]["data"]
    assert len(data) <= 400


def test_streaming_carries_the_fetch_blocks(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.web_pages["https://a.com/llamas"] = ("Llamas", "Llamas eat grass.")
    with anthropic_client.messages.stream(
        model=MODEL,
        max_tokens=500,
        messages=[{"role": "user", "content": "Llamas? https://a.com/llamas"}],
        tools=[_tool(citations={"enabled": True})],  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_message()
    use, result = final.content[0], final.content[1]
    assert use.type == "server_tool_use"
    assert use.input == {"url": "https://a.com/llamas"}
    assert result.type == "web_fetch_tool_result"


@pytest.mark.parametrize(
    "version",
    ["web_fetch_20250910", "web_fetch_20260209", "web_fetch_20260309"],
)
def test_every_version_the_sdk_types_is_accepted_without_a_beta(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic, version: str
) -> None:
    fake_anthropic.web_pages["https://a.com/x"] = ("X", "Some text here.")
    message = _create(anthropic_client, "Read https://a.com/x", [_tool(type=version)])
    assert message["content"][1]["content"]["type"] == "web_fetch_result"
    assert "anthropic-beta" not in fake_anthropic.requests[-1].headers


def test_registered_errors_come_back_as_their_codes(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.web_errors["https://a.com/big"] = "content_too_large"
    message = _create(
        anthropic_client,
        "Read https://a.com/big and https://a.com/nowhere.",
        [_tool(use_cache=False, response_inclusion="full")],
    )
    codes = [
        block["content"]["error_code"]
        for block in message["content"]
        if block["type"] == "web_fetch_tool_result"
    ]
    assert codes == ["content_too_large", "url_not_accessible"]


def test_subpaths_are_whole_segments(
    anthropic_client: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    for url in ("https://a.com/docs/x", "https://a.com/docsx"):
        fake_anthropic.web_pages[url] = ("Page", "Some page text here.")
    message = _create(
        anthropic_client,
        "Read https://a.com/docs/x https://a.com/docsx",
        [_tool(allowed_domains=["a.com/docs"])],
    )
    results = [
        block["content"].get("error_code")
        for block in message["content"]
        if block["type"] == "web_fetch_tool_result"
    ]
    assert results == [None, "url_not_allowed"]
