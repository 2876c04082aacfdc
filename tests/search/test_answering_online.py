"""Claude answers through the fake Messages API: request shape and citation mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from documents.models import Chunk, Document
from search.citations import map_citation
from search.models import Answer
from search.prompting import SYSTEM_PROMPT
from tests.conftest import HANDBOOK, ingested
from tests.fakes.anthropic import FakeAnthropic
from tests.pdfs import make_pdf

PAGES = [
    ["Annual report of the Example Widget Company."],
    ["Our headquarters moved to Lisbon during the year."],
    ["The warranty on every widget lasts five years from delivery."],
]


def _ask(api: Client, question: str) -> Any:
    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": question}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _messages(fake: FakeAnthropic) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/messages"]


def test_the_request_has_file_blocks_with_citations_and_cache_control(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.CLAUDE_MODEL = "claude-sonnet-4-6"
    handbook = ingested(user, "handbook.md", HANDBOOK.encode())
    report = ingested(user, "report.pdf", make_pdf(PAGES))
    _ask(api, "How long does the widget warranty last, and how many vacation days?")
    (request,) = _messages(fake_anthropic)
    # Citations, file sources and caching are GA: no beta header at all.
    assert "anthropic-beta" not in request.headers
    body = request.body
    assert body["model"] == "claude-sonnet-4-6"
    assert body["system"] == SYSTEM_PROMPT
    assert body["max_tokens"] == settings.CLAUDE_MAX_TOKENS
    (message,) = body["messages"]
    assert message["role"] == "user"
    *documents, question = message["content"]
    assert question == {
        "type": "text",
        "text": "How long does the widget warranty last, and how many vacation days?",
    }
    assert {d["source"]["file_id"] for d in documents} == {
        handbook.file_id,
        report.file_id,
    }
    for block in documents:
        assert block["type"] == "document"
        assert block["source"]["type"] == "file"
        assert block["citations"] == {"enabled": True}
        assert block["title"] in ("handbook", "report")
    assert [("cache_control" in d) for d in documents] == [False, True]
    assert documents[-1]["cache_control"] == {"type": "ephemeral"}


def test_char_citations_map_to_exact_ranges_and_chunks(
    online: Any, api: Client, user: Any
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    body = _ask(api, "How many days of paid vacation do employees get?")
    assert body["mode"] == "claude"
    assert body["citations"]
    for citation in body["citations"]:
        assert citation["kind"] == "char_location"
        start, end = citation["start_char"], citation["end_char"]
        assert document.text[start:end] == citation["cited_text"]
        chunk = Chunk.objects.get(id=citation["chunk_id"])
        assert chunk.start_char <= start < chunk.end_char
        assert citation["start_page"] is None
    assert any("25 days" in c["cited_text"] for c in body["citations"])
    answer = Answer.objects.get(code=body["id"])
    assert answer.input_tokens > 0
    assert answer.output_tokens > 0


def test_page_citations_map_to_the_page_and_its_text(
    online: Any, api: Client, user: Any
) -> None:
    document = ingested(user, "report.pdf", make_pdf(PAGES))
    body = _ask(api, "How many years does the widget warranty last?")
    warranty = next(c for c in body["citations"] if "warranty" in c["cited_text"])
    assert warranty["kind"] == "page_location"
    assert warranty["start_page"] == warranty["end_page"] == 3
    start, end = warranty["start_char"], warranty["end_char"]
    assert "warranty" in document.text[start:end]
    assert document.page_of(start) == 3
    assert Chunk.objects.get(id=warranty["chunk_id"]).page == 3


def test_repeated_questions_read_the_document_cache(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.min_cacheable_tokens = 1
    ingested(user, "handbook.md", HANDBOOK.encode())
    first = _ask(api, "When do unused vacation days expire?")
    second = _ask(api, "When do unused vacation days expire?")
    assert first["usage"]["cache_creation_input_tokens"] > 0
    assert second["usage"]["cache_read_input_tokens"] > 0


def test_documents_without_a_file_are_sent_as_their_text(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.ANTHROPIC_API_KEY = ""
    document = ingested(user, "handbook.md", HANDBOOK.encode())  # ingested offline
    settings.ANTHROPIC_API_KEY = "test-key"
    assert document.file_id == ""
    body = _ask(api, "How many vacation days do employees get?")
    (request,) = _messages(fake_anthropic)
    block = request.body["messages"][0]["content"][0]
    assert block["source"] == {
        "type": "text",
        "media_type": "text/plain",
        "data": document.text,
    }
    citation = body["citations"][0]
    assert (
        document.text[citation["start_char"] : citation["end_char"]]
        == (citation["cited_text"])
    )


def test_page_ranges_are_end_exclusive_and_clipped(user: Any) -> None:
    document = ingested(user, "report.pdf", make_pdf(PAGES))
    one_page = map_citation(
        {
            "type": "page_location",
            "cited_text": PAGES[2][0],
            "document_index": 0,
            "start_page_number": 3,
            "end_page_number": 4,
        },
        [document],
    )
    assert one_page is not None
    assert (one_page.start_page, one_page.end_page) == (3, 3)
    beyond = map_citation(
        {
            "type": "page_location",
            "cited_text": "",
            "document_index": 0,
            "start_page_number": 2,
            "end_page_number": 9,
        },
        [document],
    )
    assert beyond is not None
    assert (beyond.start_page, beyond.end_page) == (2, 3)
    assert (
        map_citation({"type": "char_location", "document_index": 5}, [document]) is None
    )


def test_char_offsets_that_drift_are_recovered_from_the_cited_text(user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    sentence = "Submit expense reports within 30 days through the finance portal."
    true_start = document.text.index(sentence)
    mapped = map_citation(
        {
            "type": "char_location",
            "cited_text": sentence,
            "document_index": 0,
            "start_char_index": true_start + 3,
            "end_char_index": true_start + 3 + len(sentence),
        },
        [document],
    )
    assert mapped is not None
    assert (mapped.start_char, mapped.end_char) == (
        true_start,
        true_start + len(sentence),
    )


def test_online_mode_is_shown_on_the_page(online: Any, web: Client, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    html = web.post(
        "/ask/", {"question": "vacation days"}, follow=True
    ).content.decode()
    assert "Answered by Claude" in html
    assert Document.objects.get().file_id in web.get("/documents/").content.decode()


def test_a_one_hour_cache_ttl_marks_the_documents_prefix(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.CLAUDE_CACHE_TTL = "1h"
    ingested(user, "handbook.md", HANDBOOK.encode())
    _ask(api, "How many vacation days?")
    (request,) = _messages(fake_anthropic)
    *documents, _question = request.body["messages"][-1]["content"]
    assert documents[-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert all("cache_control" not in block for block in documents[:-1])


def test_one_hour_cache_writes_are_priced_at_twice_the_input_price(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    """The pricing page: 5-minute writes cost 1.25x input, one-hour writes 2x."""
    settings.CLAUDE_PRICES = {
        settings.CLAUDE_MODEL: {
            "input": "4",
            "output": "0",
            "cache_read": "0",
            "cache_write": "5",
            "cache_write_1h": "8",
        }
    }
    fake_anthropic.min_cacheable_tokens = 1
    # Entries expire at once: every question writes its prefix again.
    fake_anthropic.cache_ttl_s = 0.0
    ingested(user, "handbook.md", HANDBOOK.encode())
    settings.CLAUDE_CACHE_TTL = "1h"
    body = _ask(api, "How many vacation days?")
    answer = Answer.objects.get(code=body["id"])
    written = answer.cache_write_tokens
    assert written > 0 and answer.cache_write_1h_tokens == written
    assert body["usage"]["cache_creation_1h_input_tokens"] == written
    expected = (answer.input_tokens * 4 + written * 8) / 1_000_000
    assert float(answer.cost_usd) == pytest.approx(expected, abs=1e-6)
    assert float(body["cost_usd"]) == pytest.approx(expected, abs=1e-6)

    # The same question with the five-minute TTL: its writes cost 1.25x.
    settings.CLAUDE_CACHE_TTL = "5m"
    again = Answer.objects.get(code=_ask(api, "How many vacation days?")["id"])
    assert again.cache_write_tokens == written and again.cache_write_1h_tokens == 0
    expected = (again.input_tokens * 4 + written * 5) / 1_000_000
    assert float(again.cost_usd) == pytest.approx(expected, abs=1e-6)
