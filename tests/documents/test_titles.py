"""Document titles as search reads them, and chunks that carry them."""

from __future__ import annotations

from typing import Any

import pytest

from documents.ingestion.extraction import Extracted
from documents.ingestion.pipeline import chunk_extracted
from documents.ingestion.titles import (
    query_title_words,
    search_title,
    split_name,
    useful_metadata_title,
)
from documents.models import Chunk
from search.answering import answer_question
from search.retrieval import chunk_search, text_ids
from tests.conftest import HANDBOOK, ingested
from tests.fakes.pdf import make_pdf


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("BESTBUY_2023_10K", "BESTBUY 2023 10K"),
        ("q3-board_report.final.docx", "q3 board report final"),
        ("boardReportQ3", "board Report Q3"),
        ("XMLParser v2.pdf", "XML Parser v2"),
        ("AMCOR_2023Q4_EARNINGS", "AMCOR 2023 Q4 EARNINGS"),
        ("3M_2015_10K", "3M 2015 10K"),
        ("Résumé_MüllerÉtude", "Résumé Müller Étude"),
        ("plain title", "plain title"),
    ],
)
def test_file_names_split_into_words(name: str, words: str) -> None:
    assert split_name(name) == words


def test_metadata_titles_that_say_nothing_are_dropped() -> None:
    assert useful_metadata_title("0001018724-18-000005") == ""
    assert useful_metadata_title("Microsoft Word - draft.docx") == ""
    assert useful_metadata_title("10-K") == ""
    assert useful_metadata_title("  Ulta Beauty  Announces Results ") == (
        "Ulta Beauty Announces Results"
    )


def test_a_search_title_joins_what_adds_words() -> None:
    assert (
        search_title(
            title="ADOBE_2022_10K",
            metadata_title="ADBE 10-K FY22",
            heading="ADOBE INC.",
        )
        == "ADOBE 2022 10K · ADBE 10-K FY22 · ADOBE INC."
    )
    # Nothing new in the heading: it is not repeated.
    assert search_title(title="handbook", text="# Handbook\n\nVacation") == "handbook"
    assert search_title(title="notes", text="# Team Handbook\n\nx") == (
        "notes · Team Handbook"
    )


def test_a_pdf_title_and_first_heading_reach_every_chunk(user: Any) -> None:
    data = make_pdf(
        ["Revenue grew nine percent.", "Margins held steady."],
        heading="Zephyr Gadgets Corporation",
        info_title="Annual Report 2023",
    )
    document = ingested(user, "ZEPHYR_2023_10K.pdf", data)
    assert document.search_title == (
        "ZEPHYR 2023 10K · Annual Report 2023 · Zephyr Gadgets Corporation"
    )
    chunks = list(document.chunks.order_by("ordinal"))
    assert {chunk.search_title for chunk in chunks} == {document.search_title}
    # Page 2 never names the company; its title does, for full-text search.
    margins = next(chunk for chunk in chunks if "Margins" in chunk.text)
    assert "zephyr" not in margins.text.lower()
    assert margins.id in text_ids(document.workspace_id, "zephyr margins", 5)


def test_indexing_text_leaves_chunk_text_and_citations_alone(user: Any) -> None:
    document = ingested(user, "policy_handbook.md", HANDBOOK.encode())
    assert document.search_title == "policy handbook"
    specs = chunk_extracted(Extracted(text=HANDBOOK, mime_type="text/markdown"))
    chunks = list(Chunk.objects.filter(document=document).order_by("ordinal"))
    # The same cuts as chunking makes, and every text is exactly its slice.
    assert [(c.start_char, c.end_char) for c in chunks] == [
        (s.start, s.end) for s in specs
    ]
    for chunk in chunks:
        assert chunk.text == document.text[chunk.start_char : chunk.end_char]
        assert "policy" not in chunk.text
    # A title word finds the chunks, and hits carry the chunk's own slice.
    hits = chunk_search(
        workspace_id=document.workspace_id, query="policy expenses", top_k=3
    )
    assert hits
    for hit in hits:
        assert hit.text == document.text[hit.start_char : hit.end_char]
    answer = answer_question(
        workspace=document.workspace, user=user, text="How long to submit expenses?"
    )
    citations = list(answer.citations.all())
    assert citations
    for citation in citations:
        assert citation.start_char is not None and citation.end_char is not None
        cited = document.text[citation.start_char : citation.end_char]
        assert cited.strip() == citation.cited_text.strip()
        assert "policy" not in cited


def test_a_question_is_read_as_a_title_would_spell_it() -> None:
    words = query_title_words("Did Best Buy's cash drop in FY2023, Q2?")
    assert {"BestBuy", "FY", "2023", "FY2023", "Q2", "cash"} <= set(words)
    assert "Buy's" not in words and "s" not in words
    assert len(words) == len(set(words))
