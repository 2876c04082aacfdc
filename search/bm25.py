"""BM25 full-text ranking over a workspace's own statistics, at bounded cost.

Document frequencies, chunk counts and token totals come from
documents_lexemestat and documents_textstat, which triggers keep current with
every chunk write (documents migration 0006): one indexed lookup per query,
never a count(*) per word.

Cost is bounded by SEARCH_TEXT_BUDGET. Query terms are taken rarest first
while their document frequencies add up to at most the budget; the chunks
holding any of them are the candidates, and each candidate is scored with
full BM25 over every query term, so a common word still counts towards the
score of the chunks it is in, but never widens the set that is scored. When
even the rarest term is too common, the two rarest must both match, and the
candidate scan itself stops at the budget.

Query words that glue letters to digits count as their parts too ('FY2017'
is also '2017'). title_documents ranks a workspace's documents by their
search titles alone, for the fusion's title ranking (search.retrieval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from documents.ingestion.titles import query_title_words, split_name
from documents.lexical import STOP_WORDS, stem, words

MAX_QUERY_WORDS = 64

# Totals first (word NULL), then each query word's lexemes (to_tsvector of the
# word, so stemming and stop words are exactly the index's) with their df.
_STATS_SQL = """
SELECT NULL, NULL, chunks, tokens FROM documents_textstat WHERE workspace_id = %s
UNION ALL
SELECT w.word, l.lexeme, coalesce(s.df, 0)::bigint, NULL
FROM unnest(%s::text[]) AS w(word)
CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', w.word)))
    AS l(lexeme)
LEFT JOIN documents_lexemestat s ON s.workspace_id = %s AND s.lexeme = l.lexeme
"""

# Term frequencies come from the candidate's own vector, cut down to the query's
# lexemes first (setweight marks them, ts_filter keeps them), so only those are
# unnested. Ties break on the chunk id, so the order is stable. The same scores
# give a second ranking within some documents (the title ranking's), so
# reading the candidates once serves both.
_BM25_SQL = """
WITH candidates AS (
    SELECT c.id, c.document_id, c.search_vector, c.search_length
    FROM documents_chunk c
    WHERE c.workspace_id = %(workspace)s AND c.search_vector @@ %(match)s::tsquery
      AND (%(documents)s::uuid[] IS NULL OR c.document_id = ANY(%(documents)s::uuid[]))
    LIMIT %(budget)s
), scored AS (
    SELECT c.id, c.document_id,
        sum(t.idf * cardinality(u.positions) * (%(k1)s::float8 + 1) / (
            cardinality(u.positions) + %(k1)s::float8 * (
                1 - %(b)s::float8
                + %(b)s::float8 * c.search_length / %(average)s::float8
            )
        )) AS score
    FROM candidates c
    CROSS JOIN LATERAL unnest(
        ts_filter(setweight(c.search_vector, 'A', %(lexemes)s::text[]), '{a}')
    ) AS u
    JOIN unnest(%(lexemes)s::text[], %(idfs)s::float8[]) AS t(lexeme, idf)
        ON t.lexeme = u.lexeme
    GROUP BY c.id, c.document_id
)
(SELECT id, score, false FROM scored ORDER BY score DESC, id LIMIT %(limit)s)
UNION ALL
(SELECT id, score, true FROM scored WHERE document_id = ANY(%(within)s::uuid[])
 ORDER BY score DESC, id LIMIT %(limit)s)
"""


# Documents ranked by their titles alone: BM25's IDF over the workspace's
# documents (the matched ones hold every title with a query word, so their
# counts are the document frequencies), a title word counted once.
_TITLE_SQL = """
WITH query AS (
    SELECT array_agg(DISTINCT l) AS lexemes,
        to_tsquery('english', string_agg(DISTINCT quote_literal(l), ' | ')) AS match
    FROM unnest(%(words)s::text[]) AS w(word)
    CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', w.word))) AS l
), matched AS (
    SELECT d.id, tsvector_to_array(d.title_vector) AS lexemes
    FROM documents_document d, query
    WHERE d.workspace_id = %(workspace)s AND d.title_vector @@ query.match
      AND (%(documents)s::uuid[] IS NULL OR d.id = ANY(%(documents)s::uuid[]))
), df AS (
    SELECT l AS lexeme, count(*) AS df FROM matched, query, unnest(matched.lexemes) l
    WHERE l = ANY(query.lexemes) GROUP BY l
), total AS (
    SELECT count(*) AS documents FROM documents_document
    WHERE workspace_id = %(workspace)s
)
SELECT m.id, sum(ln(1 + (total.documents - df.df + 0.5) / (df.df + 0.5))) AS score
FROM matched m CROSS JOIN total CROSS JOIN LATERAL unnest(m.lexemes) AS l
JOIN df ON df.lexeme = l
GROUP BY m.id
ORDER BY score DESC, m.id
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class TermStats:
    """A query's terms in one workspace: chunk count, average length, df."""

    chunks: int
    average_length: float
    # Each lexeme of the query with the number of chunks that hold it.
    df: dict[str, int]
    # Each query word (lowercased) with the lexemes the index makes of it.
    lexemes: dict[str, tuple[str, ...]]

    def idf(self, lexeme: str) -> float:
        """BM25's inverse document frequency (the +1 keeps it positive)."""
        df = self.df.get(lexeme, 0)
        return math.log(1.0 + (self.chunks - df + 0.5) / (df + 0.5))


def query_words(query: str) -> list[str]:
    """The query's words, and the parts of those that glue letters to digits.

    'FY2017' is also '2017', the way the filing's tables spell the year.
    """
    found: list[str] = []
    for word in words(query):
        found.append(word)
        if word.isalnum() and not word.isalpha() and not word.isdigit():
            found.extend(part.lower() for part in split_name(word).split())
    return list(dict.fromkeys(found))


def term_stats(workspace_id: int, query: str) -> TermStats:
    """The statistics of the query's terms in this workspace, in one query."""
    wanted = query_words(query)[:MAX_QUERY_WORDS]
    chunks, tokens = 0, 0
    df: dict[str, int] = {}
    lexemes: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_STATS_SQL, [workspace_id, wanted, workspace_id])
        for word, lexeme, count, total in cursor.fetchall():
            if word is None:
                chunks, tokens = int(count), int(total)
                continue
            df[lexeme] = int(count)
            lexemes.setdefault(word, []).append(lexeme)
    return TermStats(
        chunks=chunks,
        average_length=tokens / chunks if chunks else 1.0,
        df=df,
        lexemes={word: tuple(found) for word, found in lexemes.items()},
    )


def word_idf(stats: TermStats) -> dict[str, float]:
    """IDF by the offline embedder's stems: a word weighs as its rarest lexeme."""
    idf: dict[str, float] = {}
    for word, found in stats.lexemes.items():
        if word in STOP_WORDS or len(word) <= 1 or not found:
            continue
        weight = max(stats.idf(lexeme) for lexeme in found)
        key = stem(word)
        idf[key] = max(idf.get(key, 0.0), weight)
    return idf


def candidate_match(stats: TermStats, budget: int) -> str:
    """The tsquery that picks the candidates: the rarest terms within budget."""
    present = sorted(
        (df, lexeme) for lexeme, df in stats.df.items() if df > 0 and lexeme
    )
    if not present:
        return ""
    chosen: list[str] = []
    total = 0
    for df, lexeme in present:
        if chosen and total + df > budget:
            break
        chosen.append(lexeme)
        total += df
    if total > budget and len(present) > 1:
        # Even the rarest term is common: chunks must hold the two rarest.
        return f"{_quoted(present[0][1])} & {_quoted(present[1][1])}"
    return " | ".join(_quoted(lexeme) for lexeme in chosen)


def _quoted(lexeme: str) -> str:
    """A lexeme as a tsquery operand, taken as is (no second stemming)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def bm25_ids(
    workspace_id: int,
    query: str,
    limit: int,
    document_ids: list[str] | None = None,
    *,
    stats: TermStats | None = None,
    budget: int | None = None,
) -> list[tuple[int, float]]:
    """(chunk id, BM25 score) of the best-scoring chunks, best first."""
    ranked, _ = bm25_rankings(
        workspace_id, query, limit, document_ids, stats=stats, budget=budget
    )
    return ranked


def bm25_rankings(
    workspace_id: int,
    query: str,
    limit: int,
    document_ids: list[str] | None = None,
    *,
    within: list[str] | None = None,
    stats: TermStats | None = None,
    budget: int | None = None,
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """The best-scoring chunks, and the best of those in `within`'s documents.

    Both rankings are (chunk id, BM25 score), best first, from one reading of
    the candidates.
    """
    stats = stats or term_stats(workspace_id, query)
    match = candidate_match(stats, int(budget or settings.SEARCH_TEXT_BUDGET))
    if not match:
        return [], []
    scored = [lexeme for lexeme, df in stats.df.items() if df > 0]
    with connection.cursor() as cursor:
        cursor.execute(
            _BM25_SQL,
            {
                "workspace": workspace_id,
                "match": match,
                "documents": document_ids,
                "within": within or [],
                "budget": int(budget or settings.SEARCH_TEXT_BUDGET),
                "lexemes": scored,
                "idfs": [stats.idf(lexeme) for lexeme in scored],
                "k1": float(settings.SEARCH_BM25_K1),
                "b": float(settings.SEARCH_BM25_B),
                "average": stats.average_length,
                "limit": limit,
            },
        )
        rows = cursor.fetchall()
    ranked = [(int(row[0]), float(row[1])) for row in rows if not row[2]]
    inside = [(int(row[0]), float(row[1])) for row in rows if row[2]]
    return ranked, inside


def title_documents(
    workspace_id: int, query: str, limit: int, document_ids: list[str] | None = None
) -> list[tuple[str, float]]:
    """(document id, score) of the documents whose titles best match the query."""
    wanted = query_title_words(query)[: 2 * MAX_QUERY_WORDS]
    if not wanted:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _TITLE_SQL,
            {
                "workspace": workspace_id,
                "words": wanted,
                "documents": document_ids,
                "limit": limit,
            },
        )
        return [(str(row[0]), float(row[1])) for row in cursor.fetchall()]
