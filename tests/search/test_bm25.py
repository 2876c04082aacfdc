"""BM25 full-text ranking: the formula, its statistics, and its bounded cost."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from django.db import connection

from documents.ingestion.pipeline import document_ingest
from documents.ingestion.titles import split_name
from documents.models import Chunk, Document, LexemeStat, TextStat, Workspace
from documents.services import document_delete
from search import bm25
from search.retrieval import hybrid_ids, text_ids, title_named
from tests.conftest import ingested
from tests.factories import make_chunks


def _chunks(workspace: Workspace, texts: list[str]) -> list[int]:
    """One ready document per text, one chunk each (no vectors: BM25 only)."""
    return [chunk.id for chunk in make_chunks(workspace, texts)]


def _recount(workspace_id: int) -> tuple[dict[str, int], tuple[int, int]]:
    """The statistics recomputed from the chunks themselves."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l, count(*) FROM documents_chunk c, "
            "unnest(tsvector_to_array(c.search_vector)) AS l "
            "WHERE c.workspace_id = %s GROUP BY l",
            [workspace_id],
        )
        df = {lexeme: int(count) for lexeme, count in cursor.fetchall()}
        cursor.execute(
            "SELECT count(*), coalesce(sum(search_length), 0) FROM documents_chunk "
            "WHERE workspace_id = %s",
            [workspace_id],
        )
        chunks, tokens = cursor.fetchone()
    return df, (int(chunks), int(tokens))


def _stored(workspace_id: int) -> tuple[dict[str, int], tuple[int, int]]:
    df = dict(
        LexemeStat.objects.filter(workspace_id=workspace_id).values_list("lexeme", "df")
    )
    total = TextStat.objects.filter(workspace_id=workspace_id).first()
    return df, ((total.chunks, total.tokens) if total else (0, 0))


def test_scores_match_a_hand_computed_bm25(db: None, settings: Any) -> None:
    settings.SEARCH_BM25_K1, settings.SEARCH_BM25_B = 1.2, 0.75
    workspace = Workspace.objects.create(name="w")
    a, b, c = _chunks(
        workspace,
        ["zebra zebra quokka", "zebra walrus", "walrus ibex ibex ibex"],
    )
    # Lengths 3, 2 and 4 tokens: N = 3 chunks, average length 3.
    assert list(
        Chunk.objects.filter(id__in=[a, b, c])
        .order_by("id")
        .values_list("search_length", flat=True)
    ) == [3, 2, 4]
    scores = dict(bm25.bm25_ids(workspace.id, "zebra ibex", 10))
    idf_zebra = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # in 2 of 3 chunks
    idf_ibex = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))  # in 1 of 3

    def tf_part(tf: int, length: int) -> float:
        return tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / 3))

    assert scores[a] == pytest.approx(idf_zebra * tf_part(2, 3))  # 1.375 * idf
    assert scores[b] == pytest.approx(idf_zebra * tf_part(1, 2))
    assert scores[c] == pytest.approx(idf_ibex * tf_part(3, 4))
    assert text_ids(workspace.id, "zebra ibex", 10) == [c, a, b]


def test_statistics_follow_add_reingest_and_delete(user: Any) -> None:
    first = ingested(user, "zoo.md", b"# Zoo\n\nThe quokka sleeps. The quokka eats.\n")
    workspace_id = first.workspace_id
    assert _stored(workspace_id) == _recount(workspace_id)
    df, (chunks, _) = _stored(workspace_id)
    assert df["quokka"] == chunks >= 1

    second = ingested(user, "farm.md", b"# Farm\n\nThe llama grazes near the quokka.\n")
    assert _stored(workspace_id) == _recount(workspace_id)
    assert _stored(workspace_id)[0]["llama"] == 1

    # Re-ingested with new content: old words leave, new ones arrive, none twice.
    with second.original.open("wb") as handle:
        handle.write(b"# Farm\n\nThe alpaca grazes.\n")
    Document.objects.filter(id=second.id).update(status=Document.Status.QUEUED)
    assert document_ingest(document_id=second.id)
    df, _ = _stored(workspace_id)
    assert _stored(workspace_id) == _recount(workspace_id)
    assert "llama" not in df and df["alpaca"] == 1

    # Deleted: its words and its chunks leave the statistics.
    document_delete(document=Document.objects.get(id=second.id))
    assert _stored(workspace_id) == _recount(workspace_id)
    assert "alpaca" not in _stored(workspace_id)[0]
    document_delete(document=Document.objects.get(id=first.id))
    assert _stored(workspace_id) == ({}, (0, 0))


def test_one_workspaces_words_never_change_anothers_ranking(db: None) -> None:
    mine = Workspace.objects.create(name="mine")
    _chunks(mine, ["quokka habitat survey", "habitat loss", "quokka quokka diet"])
    before = bm25.bm25_ids(mine.id, "quokka habitat", 10)
    theirs = Workspace.objects.create(name="theirs")
    _chunks(theirs, [f"quokka habitat report {i}" for i in range(200)])
    assert bm25.bm25_ids(mine.id, "quokka habitat", 10) == before
    assert _stored(mine.id) == _recount(mine.id)
    assert _stored(theirs.id)[0]["quokka"] == 200
    # Deleting the other workspace leaves mine alone.
    theirs.delete()
    assert bm25.bm25_ids(mine.id, "quokka habitat", 10) == before
    assert not LexemeStat.objects.filter(workspace_id=theirs.id).exists()


def test_a_common_word_query_on_a_large_workspace_finds_the_right_chunk(
    db: None, settings: Any
) -> None:
    settings.SEARCH_TEXT_BUDGET = 300
    workspace = Workspace.objects.create(name="big")
    filler = [
        f"Total revenue for the quarter rose in region {i}; total revenue grew."
        for i in range(3000)
    ]
    ids = _chunks(workspace, [*filler, "Revenue of the zeppelin division was small."])
    query = "total revenue of the zeppelin division"
    stats = bm25.term_stats(workspace.id, query)
    assert stats.df["revenu"] == 3001
    # Only the rare words pick candidates; "total" and "revenue" only score.
    assert bm25.candidate_match(stats, 300) == "'divis' | 'zeppelin'"
    assert text_ids(workspace.id, query, 10)[0] == ids[-1]
    # A query of common words alone still answers, from a bounded candidate set.
    found = bm25.bm25_ids(workspace.id, "total revenue", 10)
    assert bm25.candidate_match(bm25.term_stats(workspace.id, "total revenue"), 300)
    assert len(found) == 10


def _titled(workspace: Workspace, titles_and_texts: list[tuple[str, str]]) -> list[int]:
    """One chunk per (file title, text), the document's search title set.

    Each text gets a word of its own (documents must differ in content).
    """
    texts = [f"{text} Ref{'q' * i}." for i, (_, text) in enumerate(titles_and_texts)]
    chunks = make_chunks(workspace, texts)
    for chunk, (title, _) in zip(chunks, titles_and_texts, strict=True):
        Document.objects.filter(id=chunk.document_id).update(
            title=title, search_title=split_name(title)
        )
        Chunk.objects.filter(id=chunk.id).update(search_title=split_name(title))
    return [chunk.id for chunk in chunks]


def test_documents_rank_by_the_company_and_year_their_titles_name(db: None) -> None:
    workspace = Workspace.objects.create(name="titles")
    _titled(
        workspace,
        [
            ("BESTBUY_2021_10K", "Cash and cash equivalents fell."),
            ("BESTBUY_2023_10K", "Cash and cash equivalents fell."),
            ("AMAZON_2023_10K", "Cash and cash equivalents fell."),
            ("WALMART_2023_10K", "Cash and cash equivalents fell."),
        ],
    )
    other = Workspace.objects.create(name="elsewhere")
    _titled(other, [("BESTBUY_2023_10Q", "Cash fell.")])
    named = bm25.title_documents(workspace.id, "Did Best Buy's cash drop in FY2023?", 3)
    titles = dict(Document.objects.values_list("id", "title"))
    ranked = [titles[uuid.UUID(document)] for document, _ in named]
    # "Best Buy" is joined to meet BESTBUY, "FY2023" split to meet 2023; the
    # rarer title word (BESTBUY, in 2 of 4 titles; 2023 is in 3) weighs more.
    assert ranked[:2] == ["BESTBUY_2023_10K", "BESTBUY_2021_10K"]
    assert "BESTBUY_2023_10Q" not in ranked  # another workspace's
    assert named[0][1] > named[1][1]


def test_the_named_filings_page_is_found_among_other_years(
    db: None, settings: Any
) -> None:
    settings.SEARCH_TITLE_DOCUMENTS = 1
    workspace = Workspace.objects.create(name="years")
    page = "Net sales by segment: domestic, international."
    ids = _titled(
        workspace,
        [(f"ACME_{year}_10K", page) for year in range(2010, 2024)],
    )
    query = "ACME 2017 net sales by segment"
    named = title_named(workspace.id, query)
    ranked, titled = bm25.bm25_rankings(workspace.id, query, 5, within=named)
    assert [chunk_id for chunk_id, _ in titled] == [ids[2017 - 2010]]
    assert len(ranked) == 5  # the workspace's own ranking is still whole
    # Fused, the named filing's page comes first.
    assert hybrid_ids(workspace.id, query)[0][0] == ids[2017 - 2010]
    settings.SEARCH_TITLE_DOCUMENTS = 0
    assert title_named(workspace.id, query) == []
