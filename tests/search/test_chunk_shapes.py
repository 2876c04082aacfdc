"""Chunks mode as search_result blocks: request, citation mapping, and the measurement.

When the documents do not fit the context budget, the retrieved chunks go as
search_result blocks (one per chunk, its sentences as text blocks). The last test
measures that shape against the custom-content document blocks Cairn sent before
and against one block per chunk, on the fake: tokens sent and citation exactness.
"""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from documents.models import Chunk, Document
from search import claude
from search.citations import map_citation
from search.models import Answer
from search.prompting import (
    Context,
    build_request,
    choose_context,
    chunk_block,
    piece_text,
    search_results,
)
from search.retrieval import Hit, chunk_search
from tests.conftest import HANDBOOK, ingested

BOTH = "Employees get 25 days of paid vacation per year. "
BOTH += "Unused vacation days roll over until the end of March."
SPANNING_QUESTION = (
    "How many paid vacation days do employees get per year, and do unused "
    "vacation days roll over until March?"
)


def _hits(document: Document) -> list[Hit]:
    return [
        Hit(
            chunk_id=chunk.id,
            document_id=str(document.id),
            document_title=document.title,
            text=chunk.text,
            score=1.0,
            start_char=chunk.start_char,
            end_char=chunk.end_char,
            page=chunk.page,
            ordinal=chunk.ordinal,
        )
        for chunk in Chunk.objects.filter(document=document).order_by("ordinal")
    ]


def _context(document: Document) -> Context:
    context = Context(mode="chunks", documents=[document], chunks=[_hits(document)])
    context.results = search_results(context)
    return context


def test_a_citation_of_two_blocks_maps_to_both_sentences_of_its_chunk(
    user: Any, settings: Any
) -> None:
    settings.CHUNK_TOKENS = 60
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    context = _context(document)
    vacation = next(r for r in context.results if "Employees" in r.pieces[0].hit.text)
    texts = [piece_text(p) for p in vacation.pieces]
    first = next(i for i, text in enumerate(texts) if text.startswith("Employees"))
    assert texts[first + 1].startswith("Unused")
    citation = {
        "type": "search_result_location",
        "cited_text": BOTH,
        # The index is stale on purpose: the source names the chunk.
        "search_result_index": 99,
        "source": vacation.source,
        "title": "handbook",
        "start_block_index": first,
        "end_block_index": first + 2,
    }

    mapped = map_citation(citation, context.documents, context)

    assert mapped is not None
    start = HANDBOOK.index("Employees")
    assert (mapped.start_char, mapped.end_char) == (start, start + len(BOTH))
    assert mapped.chunk_id == vacation.pieces[0].hit.chunk_id
    assert mapped.kind == "search_result_location"


def test_an_unknown_search_result_is_dropped(user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    context = _context(document)
    citation = {
        "type": "search_result_location",
        "cited_text": "x",
        "search_result_index": 42,
        "source": "cairn:chunk:0",
        "start_block_index": 0,
        "end_block_index": 1,
    }

    assert map_citation(citation, context.documents, context) is None


def _spanning(citations: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [c for c in citations if c["cited_text"] == BOTH]
    return found


def test_a_spanning_citation_streams_and_answers_with_the_same_range(
    online: Any, api: Client, user: Any, settings: Any
) -> None:
    settings.CHUNK_TOKENS = 60
    settings.ANSWER_CONTEXT_BUDGET_TOKENS = 10
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    start = document.text.index("Employees")
    expected = (start, start + len(BOTH))

    plain = api.post(
        "/api/v1/ask",
        json.dumps({"question": SPANNING_QUESTION}),
        content_type="application/json",
    ).json()
    streamed: Any = api.post(
        "/api/v1/ask",
        json.dumps({"question": SPANNING_QUESTION}),
        content_type="application/json",
        headers={"Accept": "text/event-stream"},
    )
    frames = b"".join(streamed.streaming_content).decode().strip().split("\n\n")
    events = [dict(line.split(": ", 1) for line in f.split("\n")) for f in frames]
    stream_citations = [
        json.loads(e["data"]) for e in events if e["event"] == "citation"
    ]

    assert plain["context_mode"] == "chunks"
    for citation in (_spanning(plain["citations"]), _spanning(stream_citations)):
        assert citation["kind"] == "search_result_location"
        assert (citation["start_char"], citation["end_char"]) == expected
        chunk = Chunk.objects.get(id=citation["chunk_id"])
        assert chunk.start_char <= expected[0] and expected[1] <= chunk.end_char
    stored = Answer.objects.get(code=plain["id"]).citations.get(cited_text=BOTH)
    assert (stored.start_char, stored.end_char) == expected


# -- the measurement -----------------------------------------------------------------

CORPUS = {
    "travel.md": (
        "# Travel policy\n\n"
        "Book flights at least two weeks before the trip. Economy class is the "
        "default for flights under six hours. Business class needs a director's "
        "approval. Hotels are booked through the travel desk.\n\n"
        "Per diem is 60 euros a day inside the country and 90 euros abroad. "
        "Taxis are refunded only when no public transport runs. Rental cars need "
        "the full insurance package.\n"
    ),
    "security.md": (
        "# Security\n\n"
        "Laptops lock after five minutes without input. Passwords rotate every "
        "ninety days and need sixteen characters. Two-factor authentication is "
        "required for email and the code repository.\n\n"
        "Lost badges are reported to reception within one hour. Visitors sign in "
        "at the front desk and wear a red lanyard. Server rooms open only with a "
        "badge and a PIN.\n"
    ),
}
# Question -> the sentence that answers it (the gold span).
QUESTIONS = {
    "How much is the per diem abroad?": (
        "Per diem is 60 euros a day inside the country and 90 euros abroad."
    ),
    "Who must approve business class flights?": (
        "Business class needs a director's approval."
    ),
    "How often do passwords rotate and how long are they?": (
        "Passwords rotate every ninety days and need sixteen characters."
    ),
    "What colour lanyard do visitors wear?": (
        "Visitors sign in at the front desk and wear a red lanyard."
    ),
    "When do laptops lock?": "Laptops lock after five minutes without input.",
    "How early should flights be booked?": (
        "Book flights at least two weeks before the trip."
    ),
}


def _shape(context: Context, shape: str, question: str) -> dict[str, Any]:
    """The request for one shape; citations map through Cairn's own mapping."""
    if shape == "search results, one block per chunk":
        context.results = search_results(context, split=False)
    else:
        context.results = search_results(context, split=True)
    request = build_request(question, context)
    if shape == "document blocks, one block per chunk":
        blocks = [
            chunk_block(d, hits)
            for d, hits in zip(context.documents, context.chunks, strict=True)
        ]
        request["messages"][-1]["content"] = [
            *blocks,
            {"type": "text", "text": question},
        ]
    return request


def _exactness(start: int, end: int, gold: tuple[int, int]) -> float:
    """Overlap of the cited range with the answering sentence (Jaccard)."""
    inter = max(0, min(end, gold[1]) - max(start, gold[0]))
    union = max(end, gold[1]) - min(start, gold[0])
    return inter / union if union else 0.0


def test_search_results_of_sentences_cite_tighter_than_document_blocks(
    online: Any, user: Any, settings: Any
) -> None:
    settings.CHUNK_TOKENS = 60
    settings.ANSWER_CONTEXT_BUDGET_TOKENS = 10
    documents = [ingested(user, name, text.encode()) for name, text in CORPUS.items()]
    shapes = [
        "document blocks, one block per chunk",
        "search results, one block per chunk",
        "search results, sentences as blocks",
    ]
    measured: dict[str, tuple[int, float]] = {}
    for shape in shapes:
        tokens, scores = 0, []
        for question, gold_text in QUESTIONS.items():
            hits = chunk_search(
                workspace_id=documents[0].workspace_id, query=question, top_k=4
            )
            context = choose_context(hits)
            assert context.mode == "chunks"
            message = claude.create_message(_shape(context, shape, question))
            tokens += int(message["usage"]["input_tokens"])
            owner = next(d for d in documents if gold_text in d.text)
            gold_start = owner.text.index(gold_text)
            gold = (gold_start, gold_start + len(gold_text))
            best = 0.0
            for block in message["content"]:
                for citation in block.get("citations") or []:
                    mapped = map_citation(citation, context.documents, context)
                    assert mapped is not None
                    if mapped.document.id == owner.id:
                        assert mapped.start_char is not None
                        assert mapped.end_char is not None
                        span = (mapped.start_char, mapped.end_char)
                        best = max(best, _exactness(*span, gold))
            scores.append(best)
        measured[shape] = (tokens, sum(scores) / len(scores))
    for shape, (tokens, exact) in measured.items():
        print(f"{shape}: {tokens} input tokens, exactness {exact:.2f}")

    documents_tokens, documents_exact = measured[shapes[0]]
    _, chunk_exact = measured[shapes[1]]
    sentence_tokens, sentence_exact = measured[shapes[2]]
    # Whole-chunk blocks cite the whole chunk either way; sentences cite the sentence.
    assert sentence_exact >= 0.75
    assert sentence_exact > max(documents_exact, chunk_exact)
    # The price: each chunk repeats its title and names its source.
    assert sentence_tokens <= documents_tokens * 1.3
