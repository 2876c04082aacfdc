"""The Claude request by budget, streamed answers over SSE, and conversations."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from documents.models import Chunk
from search.models import Answer, Conversation
from search.prompting import SYSTEM_PROMPT
from tests.conftest import HANDBOOK, ingested
from tests.fakes.anthropic import FakeAnthropic

QUESTION = "How many days of paid vacation do employees get?"


def _messages(fake: FakeAnthropic) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/messages"]


def _ask(api: Client, question: str, **extra: Any) -> Any:
    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": question, **extra}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _events(response: Any) -> list[tuple[str, dict[str, Any]]]:
    raw = b"".join(response.streaming_content).decode()
    events = []
    for frame in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_documents_that_fit_go_whole_as_file_blocks(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.CLAUDE_MODEL = "claude-sonnet-4-6"
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    body = _ask(api, QUESTION)
    assert body["context_mode"] == "files"
    (request,) = _messages(fake_anthropic)
    assert request.body == {
        "model": "claude-sonnet-4-6",
        "max_tokens": settings.CLAUDE_MAX_TOKENS,
        "system": SYSTEM_PROMPT,
        "stream": True,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "file", "file_id": document.file_id},
                        "title": "handbook",
                        "citations": {"enabled": True},
                        "cache_control": {"type": "ephemeral"},
                    },
                    {"type": "text", "text": QUESTION},
                ],
            }
        ],
    }
    assert Answer.objects.get().context_mode == "files"


def test_over_budget_sends_chunks_as_search_results_and_cites_the_chunk(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.CLAUDE_MODEL = "claude-sonnet-4-6"
    settings.CHUNK_TOKENS = 20
    settings.CHUNK_OVERLAP_TOKENS = 0
    settings.ANSWER_CONTEXT_BUDGET_TOKENS = 10
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    chunks = list(Chunk.objects.filter(document=document).order_by("ordinal"))
    assert len(chunks) > 1
    body = _ask(api, QUESTION)
    assert body["context_mode"] == "chunks"
    (request,) = _messages(fake_anthropic)
    (message,) = request.body["messages"]
    *results, question = message["content"]
    assert question == {"type": "text", "text": QUESTION}
    c = {chunk.ordinal: chunk.id for chunk in chunks}

    def result(ordinal: int, *texts: str) -> dict[str, Any]:
        return {
            "type": "search_result",
            "source": f"cairn:chunk:{c[ordinal]}",
            "title": "handbook",
            "content": [{"type": "text", "text": text} for text in texts],
            "citations": {"enabled": True},
        }

    # Retrieved chunks in document order, one search result each, sentences as
    # blocks; the cache breakpoint sits on the last.
    assert results == [
        result(0, "# Handbook"),
        result(
            1, "## Vacation\n\n", "Employees get 25 days of paid vacation per year."
        ),
        result(2, "Unused vacation days roll over until the end of March."),
        result(
            3,
            "## Expenses\n\n",
            "Submit expense reports within 30 days through the finance portal.",
        ),
        result(4, "Receipts over 50 euros must be attached.")
        | {"cache_control": {"type": "ephemeral"}},
    ]
    vacation = "Employees get 25 days of paid vacation per year."
    first = body["citations"][0]
    assert first["kind"] == "search_result_location"
    assert first["chunk_id"] == c[1]
    assert first["cited_text"] == vacation
    start = document.text.index(vacation)
    assert (first["start_char"], first["end_char"]) == (start, start + len(vacation))
    for citation in body["citations"]:
        chunk = Chunk.objects.get(id=citation["chunk_id"])
        assert chunk.start_char <= citation["start_char"] < citation["end_char"]
        assert citation["end_char"] <= chunk.end_char
        assert (
            document.text[citation["start_char"] : citation["end_char"]]
            == citation["cited_text"]
        )


def test_the_stream_sends_text_citations_and_the_stored_answer(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": QUESTION}),
        content_type="application/json",
        headers={"Accept": "text/event-stream"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    events = _events(response)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done"
    assert "citation" in names
    # A citation arrives mid-stream: text both before and after it.
    first = names.index("citation")
    assert "text" in names[:first] and "text" in names[first + 1 :]
    done = events[-1][1]
    answer = Answer.objects.get(code=done["answer_id"])
    assert "".join(d["text"] for n, d in events if n == "text").strip() == answer.text
    streamed = [d for n, d in events if n == "citation"]
    stored = list(answer.citations.order_by("ordinal"))
    assert [c["ordinal"] for c in streamed] == [c.ordinal for c in stored]
    assert [(c["chunk_id"], c["start_char"], c["end_char"]) for c in streamed] == [
        (c.chunk_id, c.start_char, c.end_char) for c in stored
    ]
    assert done["usage"] == answer.usage and answer.input_tokens > 0
    assert float(done["cost_usd"]) > 0


def test_the_offline_answerer_streams_the_same_events(api: Client, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": QUESTION}),
        content_type="application/json",
        headers={"Accept": "text/event-stream"},
    )
    events = _events(response)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done" and "citation" in names
    answer = Answer.objects.get(code=events[-1][1]["answer_id"])
    assert answer.mode == "offline"
    assert [d["cited_text"] for n, d in events if n == "citation"] == [
        c.cited_text for c in answer.citations.order_by("ordinal")
    ]


def test_a_follow_up_carries_the_earlier_turn_with_its_citations(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    first = _ask(api, QUESTION)
    second = _ask(
        api, "And when do unused days expire?", conversation_id=first["conversation_id"]
    )
    assert second["conversation_id"] == first["conversation_id"]
    _, follow_up = _messages(fake_anthropic)
    earlier_user, earlier_answer, current = follow_up.body["messages"]
    assert earlier_user == {"role": "user", "content": QUESTION}
    assert earlier_answer["role"] == "assistant"
    assert "[1]" in earlier_answer["content"]
    assert first["citations"][0]["cited_text"] in earlier_answer["content"]
    assert current["content"][-1]["text"] == "And when do unused days expire?"
    conversation = Conversation.objects.get(code=first["conversation_id"])
    assert conversation.questions.count() == 2
    listed = api.get("/api/v1/conversations").json()["conversations"]
    assert [c["id"] for c in listed] == [first["conversation_id"]]
    assert listed[0]["answers"] == [first["id"], second["id"]]


def test_a_conversation_of_another_user_is_not_found(api: Client, user: Any) -> None:
    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": QUESTION, "conversation_id": "nope"}),
        content_type="application/json",
    )
    assert response.status_code == 404


def test_a_failure_mid_stream_ends_with_an_error_event(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    fake_anthropic.fail_next(
        529,
        "overloaded_error",
        "Overloaded",
        path_prefix="/v1/messages",
        during_stream=True,
    )
    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": QUESTION}),
        content_type="application/json",
        headers={"Accept": "text/event-stream"},
    )
    names = [name for name, _ in _events(response)]
    assert names[0] == "start" and names[-1] == "error"
    assert "done" not in names
    assert not Answer.objects.exists()
