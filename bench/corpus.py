"""Retrieval on a real shelf: FinanceBench filings through the product's ingestion.

`python -m bench retrieval-corpus [--keep] [--copies N] [--queries 300]`

Loads ../shared/data/financebench-corpus/ and financebench-sample/ into one
workspace (N workspaces with --copies) through documents.ingestion, offline.
Then: the 16 sample questions with every other filing as a distractor (is the
evidence page in the top 10, 5, 1?), and the latency of ~300 queries (the
sample questions plus sentences and headings drawn from the corpus) through
the whole `chunk_search` and each of its parts, beside the plain HNSW query
(the dense floor) and a plain GIN match of the same terms. With --keep, a
loaded database whose inputs did not change is reused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.retrieval import time_paths

BASE_DIR = Path(__file__).resolve().parent.parent
TOP_K = 10
# Code whose change means the loaded chunks are stale.
_INPUTS = (
    "documents/ingestion",
    "documents/lexical.py",
    "documents/remote/embeddings.py",
    "documents/models.py",
    "documents/migrations",
)


def _data() -> Path:
    for root in (BASE_DIR.parent / "shared" / "data", Path("/work/shared/data")):
        if (root / "financebench-corpus" / "pdfs").is_dir():
            return root
    raise SystemExit("bench retrieval-corpus: shared/data/financebench-* is absent")


def _pdfs(data: Path) -> list[Path]:
    return sorted((data / "financebench-corpus" / "pdfs").glob("*.pdf")) + sorted(
        (data / "financebench-sample" / "pdfs").glob("*.pdf")
    )


def setup_django() -> None:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ["CAIRN_SKIP_DOTENV"] = "1"
    for name in ("ANTHROPIC_API_KEY", "VOYAGE_API_KEY"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _fingerprint(pdfs: list[Path], copies: int) -> str:
    """What the loaded database depends on: the files and the ingestion code."""
    from django.conf import settings

    digest = hashlib.sha256()
    for path in pdfs:
        digest.update(f"{path.name}:{path.stat().st_size}\n".encode())
    for name in _INPUTS:
        root = BASE_DIR / name
        for source in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            digest.update(source.read_bytes())
    digest.update(
        f"{copies}:{settings.CHUNK_TOKENS}:{settings.CHUNK_OVERLAP_TOKENS}:"
        f"{settings.EMBEDDING_DIMENSIONS}".encode()
    )
    return digest.hexdigest()


def _ingest(workspace: Any, path: Path) -> tuple[int, int]:
    """One PDF through the product's pipeline; (pages, chunks)."""
    from django.core.files.base import ContentFile

    from documents.ingestion.pipeline import document_ingest
    from documents.models import Document

    data = path.read_bytes()
    document = Document(
        workspace=workspace,
        original_name=path.name,
        title=path.stem,
        mime_type="application/pdf",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    document.original.save(f"{document.id}.pdf", ContentFile(data), save=False)
    document.save()
    document_ingest(document_id=document.id)
    document.refresh_from_db()
    if document.status != Document.Status.READY:
        print(f"  {path.name}: {document.status} {document.error}")
        return 0, 0
    return document.pages or 0, document.chunks.count()


def load(pdfs: list[Path], copies: int, keep: bool) -> list[int]:
    """The bench workspaces' ids, loaded (or reused with keep) from the PDFs."""
    from django.conf import settings

    from documents.ingestion.spaces import ensure_active_space
    from documents.models import Document, Workspace

    ensure_active_space()
    marker = Path(settings.VAR_DIR) / "retrieval-corpus.json"
    fingerprint = _fingerprint(pdfs, copies)
    names = [f"corpus:{index}" for index in range(copies)]
    if keep and marker.is_file():
        saved = json.loads(marker.read_text())
        ids = list(
            Workspace.objects.filter(name__in=names)
            .order_by("name")
            .values_list("id", flat=True)
        )
        ready = Document.objects.filter(
            workspace_id__in=ids, status=Document.Status.READY
        ).count()
        if saved.get("fingerprint") == fingerprint and ready == saved.get("ready"):
            print(f"reusing {len(ids)} loaded workspace(s), {ready} documents")
            return ids
    Workspace.objects.filter(name__startswith="corpus:").delete()
    marker.unlink(missing_ok=True)
    ids = []
    ready = 0
    for name in names:
        workspace = Workspace.objects.create(name=name)
        ids.append(workspace.id)
        pages = chunks = 0
        started = time.perf_counter()
        for index, path in enumerate(pdfs, start=1):
            got = _ingest(workspace, path)
            pages, chunks = pages + got[0], chunks + got[1]
            ready += 1 if got[0] else 0
            if index % 20 == 0:
                print(f"  {name}: {index}/{len(pdfs)} files, {pages} pages")
        elapsed = time.perf_counter() - started
        print(
            f"{name}: {len(pdfs)} files, {pages} pages, {chunks} chunks in "
            f"{elapsed:.0f} s ({pages / elapsed:.1f} pages/s)"
        )
    marker.write_text(json.dumps({"fingerprint": fingerprint, "ready": ready}))
    return ids


def clone(workspace_id: int, name: str) -> int:
    """A copy of a loaded workspace made in SQL: documents, chunks and vectors.

    Chunk statistics follow through the triggers and every vector goes through
    the live HNSW index, as ingestion's would; ingesting the filings again
    would take half an hour a copy on this machine.
    """
    from django.db import connection, transaction

    from documents.models import Workspace

    Workspace.objects.filter(name=name).delete()
    target = Workspace.objects.create(name=name)

    def columns(table: str, skip: set[str]) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = %s AND is_generated = 'NEVER' "
                "ORDER BY ordinal_position",
                [table],
            )
            return [row[0] for row in cursor.fetchall() if row[0] not in skip]

    moved = {"id", "workspace_id", "document_id", "chunk_id"}
    document = columns("documents_document", moved)
    chunk = columns("documents_chunk", moved)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE clone_documents ON COMMIT DROP AS "
            "SELECT id AS old, gen_random_uuid() AS new FROM documents_document "
            "WHERE workspace_id = %s",
            [workspace_id],
        )
        cursor.execute(
            f"INSERT INTO documents_document (id, workspace_id, {', '.join(document)}) "
            f"SELECT m.new, %s, {', '.join('d.' + c for c in document)} "
            "FROM documents_document d JOIN clone_documents m ON m.old = d.id",
            [target.id],
        )
        cursor.execute(
            "CREATE TEMP TABLE clone_chunks ON COMMIT DROP AS "
            "SELECT c.id AS old, nextval(pg_get_serial_sequence("
            "'documents_chunk', 'id')) AS new, m.new AS document "
            "FROM documents_chunk c JOIN clone_documents m ON m.old = c.document_id"
        )
        cursor.execute(
            f"INSERT INTO documents_chunk (id, workspace_id, document_id, "
            f"{', '.join(chunk)}) SELECT m.new, %s, m.document, "
            f"{', '.join('c.' + c for c in chunk)} "
            "FROM documents_chunk c JOIN clone_chunks m ON m.old = c.id",
            [target.id],
        )
        cursor.execute(
            "INSERT INTO documents_chunkvector (workspace_id, document_id, chunk_id, "
            "space_id, embedding) SELECT %s, m.document, m.new, v.space_id, "
            "v.embedding FROM documents_chunkvector v "
            "JOIN clone_chunks m ON m.old = v.chunk_id",
            [target.id],
        )
    return int(target.id)


def questions(data: Path) -> list[dict[str, Any]]:
    path = data / "financebench-sample" / "questions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def evidence_ranks(workspace_id: int, items: list[dict[str, Any]]) -> list[int | None]:
    """Per question, the 1-based rank of the first hit on an evidence page."""
    from documents.models import Document
    from search.retrieval import chunk_search

    names = dict(
        Document.objects.filter(workspace_id=workspace_id).values_list(
            "id", "original_name"
        )
    )
    ranks: list[int | None] = []
    for item in items:
        wanted = {
            (f"{e['doc_name']}.pdf", int(e["evidence_page_num"]) + 1)
            for e in item["evidence"]
        }
        hits = chunk_search(
            workspace_id=workspace_id, query=item["question"], top_k=TOP_K
        )
        rank = next(
            (
                position
                for position, hit in enumerate(hits, start=1)
                if (names.get(_uuid(hit.document_id)), hit.page) in wanted
            ),
            None,
        )
        ranks.append(rank)
    return ranks


def _uuid(value: str) -> Any:
    import uuid

    return uuid.UUID(value)


_SENTENCE = re.compile(r"[A-Z][^.!?\n]{40,200}[.!?]")


def corpus_queries(workspace_id: int, count: int, seed: int = 0) -> list[str]:
    """Sentences and heading-like lines drawn from the workspace's own chunks."""
    from documents.models import Chunk

    rng = random.Random(seed)
    ids = list(
        Chunk.objects.filter(workspace_id=workspace_id).values_list("id", flat=True)
    )
    rng.shuffle(ids)
    found: list[str] = []
    for start in range(0, len(ids), 500):
        texts = Chunk.objects.filter(id__in=ids[start : start + 500]).values_list(
            "text", flat=True
        )
        for text in texts:
            if len(found) >= count:
                return found
            if rng.random() < 0.3:
                lines = [
                    line.strip()
                    for line in text.splitlines()
                    if 3 <= len(line.split()) <= 10 and line.strip()[:1].isalpha()
                ]
                if lines:
                    found.append(rng.choice(lines))
            else:
                sentences = _SENTENCE.findall(text)
                if sentences:
                    found.append(" ".join(rng.choice(sentences).split()))
    return found


_FORMS = {"10K": "10-K", "10Q": "10-Q", "8K": "8-K", "EARNINGS": "earnings release"}
_TEMPLATES = (
    "What was {company}'s {line} in FY{year}?",
    "{line} for {company} in {year}",
    "According to {company}'s {year} {form}, {line}?",
)


def titled_queries(
    workspace_id: int, sample_names: set[str], per_document: int = 3, seed: int = 0
) -> list[tuple[str, str, set[int]]]:
    """(query, document id, evidence pages) made from the corpus's own lines.

    As an analyst asks: a heading-like line of one page with the filing's
    company and year around it, so every other filing of the company (same
    headings, other years) is a distractor. The sample filings are left out.
    Lines found on more than two pages of their filing are skipped.
    """
    from documents.ingestion.titles import split_name
    from documents.models import Chunk, Document

    rng = random.Random(seed)
    made: list[tuple[str, str, set[int]]] = []
    documents = Document.objects.filter(
        workspace_id=workspace_id, status=Document.Status.READY
    ).order_by("original_name")
    for document in documents:
        if document.original_name in sample_names:
            continue
        words = split_name(document.title).split()
        year_at = next(
            (i for i, w in enumerate(words) if re.fullmatch(r"20\d\d", w)), 0
        )
        if not year_at:
            continue
        company = " ".join(w.capitalize() for w in words[:year_at])
        form = next((_FORMS[w] for w in words if w in _FORMS), "filing")
        pages: dict[str, set[int]] = {}
        for text, page in Chunk.objects.filter(document=document).values_list(
            "text", "page"
        ):
            for line in {" ".join(line.split()) for line in text.splitlines()}:
                heading_like = 4 <= len(line.split()) <= 9 and line[:1].isupper()
                if heading_like and page and sum(ch.isdigit() for ch in line) <= 2:
                    pages.setdefault(line, set()).add(page)
        lines = sorted(line for line, found in pages.items() if len(found) <= 2)
        for line in rng.sample(lines, min(per_document, len(lines))):
            template = rng.choice(_TEMPLATES)
            query = template.format(
                company=company, year=words[year_at], form=form, line=line.lower()
            )
            made.append((query, str(document.id), pages[line]))
    return made


def titled_hits(
    workspace_id: int, made: list[tuple[str, str, set[int]]]
) -> tuple[int, int, int]:
    """How many of the made queries find their page in the top 10, 5 and 1."""
    from search.retrieval import chunk_search

    top10 = top5 = top1 = 0
    for query, document_id, pages in made:
        hits = chunk_search(workspace_id=workspace_id, query=query, top_k=TOP_K)
        rank = next(
            (
                position
                for position, hit in enumerate(hits, start=1)
                if hit.document_id == document_id and hit.page in pages
            ),
            None,
        )
        top10 += rank is not None
        top5 += rank is not None and rank <= 5
        top1 += rank == 1
    return top10, top5, top1


# The full-text query before issue 10: every chunk sharing a word, ts_rank'ed.
LEGACY_TEXT_SQL = """
WITH q AS (
    SELECT to_tsquery('english', coalesce(array_to_string(array(
        SELECT quote_literal(lexeme)
        FROM unnest(tsvector_to_array(to_tsvector('english', %s))) AS lexeme
    ), ' | '), '')) AS query
)
SELECT c.id FROM documents_chunk c, q
WHERE c.workspace_id = %s AND c.search_vector @@ q.query
ORDER BY ts_rank(c.search_vector, q.query, 1) DESC, c.id
LIMIT %s
"""

# A plain GIN match of the same terms: no ranking, the first rows found.
GIN_SQL = """
SELECT c.id FROM documents_chunk c
WHERE c.workspace_id = %s AND c.search_vector @@ to_tsquery('english',
    coalesce(array_to_string(array(
        SELECT quote_literal(lexeme)
        FROM unnest(tsvector_to_array(to_tsvector('english', %s))) AS lexeme
    ), ' | '), ''))
LIMIT %s
"""


def latency(
    workspace_id: int,
    queries: list[str],
    *,
    legacy: bool = False,
) -> list[tuple[str, float, float]]:
    """p50/p95 of the whole search, each part, the floor and a plain GIN match."""
    from django.conf import settings
    from django.db import connection

    from documents.ingestion.spaces import ensure_active_space
    from search import bm25, retrieval

    limit = int(settings.SEARCH_CANDIDATES)
    vectors = [retrieval.query_vector(workspace_id, q) for q in queries]
    dense = [retrieval.dense_ids(workspace_id, v, limit) for v in vectors]
    text = [retrieval.text_ids(workspace_id, q, limit) for q in queries]
    named = [retrieval.title_named(workspace_id, q) for q in queries]
    fused = [retrieval.fuse([d, t]) for d, t in zip(dense, text, strict=True)]
    space = ensure_active_space()
    width = int(space.dimensions)
    floor_sql = (
        "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off; "
        f"SET LOCAL hnsw.ef_search = {retrieval.ef_search_for(TOP_K):d}; "
        "SELECT chunk_id FROM documents_chunkvector "
        f"WHERE space_id = {int(space.pk):d} AND workspace_id = %s "
        f"ORDER BY embedding::vector({width:d}) <=> %s::vector({width:d}) LIMIT %s"
    )
    literals = [retrieval.vector_literal(v) for v in vectors]

    def sql(statement: str, params: Callable[[int], list[Any]]) -> Any:
        def run(i: int) -> Any:
            with connection.cursor() as cursor:
                cursor.execute(statement, params(i))
                while cursor.description is None and cursor.nextset():
                    pass
                return cursor.fetchall()

        return run

    paths: dict[str, Callable[[int], object]] = {
        "floor: plain HNSW top 10": sql(
            floor_sql, lambda i: [workspace_id, literals[i], TOP_K]
        ),
        "chunk_search (whole)": lambda i: retrieval.chunk_search(
            workspace_id=workspace_id, query=queries[i], top_k=TOP_K
        ),
        "  query embedding": lambda i: retrieval.query_vector(workspace_id, queries[i]),
        "  dense": lambda i: retrieval.dense_ids(workspace_id, vectors[i], limit),
        "  title ranking": lambda i: retrieval.title_named(workspace_id, queries[i]),
        "  full-text (both rankings)": lambda i: bm25.bm25_rankings(
            workspace_id, queries[i], limit, within=named[i]
        ),
        "  fusion": lambda i: retrieval.fuse([dense[i], text[i]]),
        "  hit fetch": lambda i: retrieval.fetch_hits(workspace_id, fused[i][:TOP_K]),
        "plain GIN match (OR)": sql(
            GIN_SQL, lambda i: [workspace_id, queries[i], limit]
        ),
    }
    if legacy:
        # Seconds a query at this size: only on request.
        paths["legacy ts_rank OR"] = sql(
            LEGACY_TEXT_SQL, lambda i: [queries[i], workspace_id, limit]
        )
    return time_paths(paths, len(queries))


def budget_sweep(
    workspace_id: int, queries: list[str], budgets: list[int]
) -> list[tuple[int, float, float, float]]:
    """Per candidate budget: overlap of its top 10 with exact BM25's, p50, p95.

    Exact BM25 scores every chunk holding any query term (no budget), so the
    overlap says what the bound costs in ranking, on the corpus's own queries.
    """
    import statistics

    from search import bm25

    stats = [bm25.term_stats(workspace_id, q) for q in queries]
    exact = [
        [i for i, _ in bm25.bm25_ids(workspace_id, q, TOP_K, stats=s, budget=10**9)]
        for q, s in zip(queries, stats, strict=True)
    ]
    rows = []
    for budget in budgets:
        overlaps, times = [], []
        for q, s, truth in zip(queries, stats, exact, strict=True):
            started = time.perf_counter()
            got = bm25.bm25_ids(workspace_id, q, TOP_K, stats=s, budget=budget)
            times.append((time.perf_counter() - started) * 1000)
            found = {i for i, _ in got}
            overlaps.append(len(found & set(truth)) / max(1, len(truth)))
        times.sort()
        rows.append(
            (
                budget,
                statistics.mean(overlaps),
                statistics.median(times),
                times[int(0.95 * len(times)) - 1],
            )
        )
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench retrieval-corpus")
    parser.add_argument("--keep", action="store_true", help="reuse a loaded DB")
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument(
        "--clones", type=int, default=0, help="then copy the workspace N times in SQL"
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument(
        "--legacy", action="store_true", help="also time the old ts_rank OR query"
    )
    parser.add_argument(
        "--titled", action="store_true", help="score queries made from the filings"
    )
    parser.add_argument(
        "--budgets", default="", help="e.g. 250,500,1000: full-text budget sweep"
    )
    parser.add_argument(
        "--files", type=int, default=0, help="only the first N corpus files (smoke)"
    )
    args, _ = parser.parse_known_args(argv)
    data = _data()
    setup_django()
    from django.conf import settings

    pdfs = _pdfs(data)
    if args.files:
        sample = (data / "financebench-sample" / "pdfs").glob("*.pdf")
        pdfs = pdfs[: args.files] + sorted(sample)
    ids = load(pdfs, args.copies, args.keep)
    workspace_id = ids[0]
    for index in range(len(ids), len(ids) + args.clones):
        started = time.perf_counter()
        ids.append(clone(workspace_id, f"corpus:{index}"))
        print(f"corpus:{index} cloned in {time.perf_counter() - started:.0f} s")
    items = questions(data)
    ranks = evidence_ranks(workspace_id, items)
    print(
        f"sample questions ({len(items)}), evidence page in the top 10: "
        f"{sum(r is not None for r in ranks)}, top 5: "
        f"{sum(r is not None and r <= 5 for r in ranks)}, top 1: "
        f"{sum(r == 1 for r in ranks)}   ranks {ranks}"
    )
    if args.titled:
        names = {
            path.name for path in (data / "financebench-sample" / "pdfs").iterdir()
        }
        made = titled_queries(workspace_id, names)
        order = list(dict.fromkeys(document for _, document, _ in made))
        # Filings alternate: even ones are the development split, odd held out.
        for split, parity in (("dev", 0), ("held-out", 1)):
            part = [m for m in made if order.index(m[1]) % 2 == parity]
            top10, top5, top1 = titled_hits(workspace_id, part)
            print(
                f"titled corpus queries, {split} ({len(part)}): page in the top 10 "
                f"{top10}, top 5 {top5}, top 1 {top1}"
            )
    if args.no_latency and not args.budgets:
        return 0
    queries = [item["question"] for item in items]
    queries += corpus_queries(workspace_id, args.queries - len(queries))
    if args.budgets:
        # Corpus queries only (never the sample questions), even positions.
        dev = queries[len(items) :][0::2]
        print(f"full-text budget sweep on {len(dev)} corpus queries (dev half):")
        budgets = [int(b) for b in args.budgets.split(",")]
        for budget, overlap, p50, p95 in budget_sweep(workspace_id, dev, budgets):
            print(
                f"  budget {budget:>6}: top-10 overlap with exact BM25 "
                f"{overlap:.3f}   p50 {p50:7.2f} ms   p95 {p95:7.2f} ms"
            )
    if args.no_latency:
        return 0
    print(
        f"latency: {len(queries)} queries, candidates {settings.SEARCH_CANDIDATES}, "
        f"ef_search {settings.SEARCH_EF_SEARCH}, workspaces {len(ids)}"
    )
    rows = latency(workspace_id, queries, legacy=args.legacy)
    floor = rows[0][2]
    for name, p50, p95 in rows:
        print(
            f"  {name:<26} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms"
            f"   ({p95 / floor:5.2f}x floor p95)"
        )
    return 0
