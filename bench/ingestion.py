"""Ingestion benchmark: pipeline throughput, insert rate, peak memory, LangChain peer.

Runs on its own CAIRN_VAR_DIR (var/bench): embedded PostgreSQL and Redis, the fake
Files API with realistic latency, the offline embedder (so the model is not what
is measured). `python -m bench ingestion [--latency 0.3] [--rows 20000]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent


def _pdfs() -> list[Path]:
    for root in (BASE_DIR.parent / "shared" / "data", Path("/work/shared/data")):
        folder = root / "financebench-sample" / "pdfs"
        if folder.is_dir():
            return sorted(folder.glob("*.pdf"))
    return []


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ["CAIRN_SKIP_DOTENV"] = "1"
    for name in ("ANTHROPIC_API_KEY", "VOYAGE_API_KEY"):
        os.environ.pop(name, None)
    import django
    from django.conf import settings

    from project import embedded

    django.setup()
    embedded.start_redis(settings.VAR_DIR)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _workspace() -> Any:
    from documents.models import Workspace

    return Workspace.objects.create(name=f"bench {uuid.uuid4().hex[:6]}")


def _new_document(workspace: Any, path: Path) -> Any:
    import hashlib

    from django.core.files.base import ContentFile

    from documents.models import Document

    data = path.read_bytes()
    document = Document(
        workspace=workspace,
        original_name=path.name,
        title=path.stem,
        mime_type="application/pdf",
        sha256=hashlib.sha256(data + uuid.uuid4().bytes).hexdigest(),
        size=len(data),
    )
    document.original.save(f"{document.id}.pdf", ContentFile(data), save=False)
    document.save()
    return document


def bench_pipeline(pdfs: list[Path], latency: float) -> dict[str, float]:
    """Cairn's pipeline in-process over every sample PDF, stage by stage."""
    from django.conf import settings

    from documents.ingestion.pipeline import document_ingest
    from documents.models import Document
    from documents.remote import embeddings, files_api
    from tests.fakes.anthropic import FakeAnthropic

    fake = FakeAnthropic().start()
    fake.latency_s = latency
    settings.ANTHROPIC_API_KEY = "bench-key"
    settings.ANTHROPIC_BASE_URL = fake.base_url
    files_api.forget_clients()
    embeddings.forget_clients()
    files_api.client()  # a warm worker has the SDK imported (about 5 s cold)
    workspace = _workspace()
    pages = chunks = 0
    extract_s = index_s = 0.0
    started = time.perf_counter()
    try:
        for path in pdfs:
            document = _new_document(workspace, path)
            t0 = time.perf_counter()
            document_ingest(document_id=document.id, stage="extract")
            t1 = time.perf_counter()
            document_ingest(document_id=document.id, stage="index")
            t2 = time.perf_counter()
            extract_s += t1 - t0
            index_s += t2 - t1
            document = Document.objects.get(id=document.id)
            assert document.status == "ready", document.error
            pages += document.pages or 0
            chunks += document.chunks.count()
    finally:
        fake.stop()
        settings.ANTHROPIC_API_KEY = ""
        files_api.forget_clients()
    total = time.perf_counter() - started
    return {
        "files": len(pdfs),
        "pages": pages,
        "chunks": chunks,
        "seconds": total,
        "extract_s": extract_s,
        "index_s": index_s,
        "pages_per_s": pages / total,
        "chunks_per_s": chunks / total,
    }


def bench_inserts(rows: int) -> dict[str, float]:
    """Chunk + vector insert rate: binary COPY, into the real indexed table and bare."""
    from django.db import connection, transaction

    from documents.ingestion import bulk
    from documents.models import Chunk

    workspace = _workspace()
    document = _new_document(workspace, _pdfs()[-1])
    import numpy

    # Distinct random unit vectors: repeated ones would make HNSW inserts
    # unrepresentatively slow (ties everywhere in the graph).
    matrix = numpy.random.default_rng(7).standard_normal((rows, 1024))
    matrix /= numpy.linalg.norm(matrix, axis=1, keepdims=True)
    vectors = matrix.astype(numpy.float32).tolist()
    text = "Revenue grew eleven percent on strong services demand. " * 20
    from documents.ingestion.spaces import ensure_active_space
    from documents.models import ChunkVector

    space = ensure_active_space()
    data = [
        bulk.ChunkRow(document.id, workspace.id, i, text, 0, len(text), 1, "", 280,
                      vectors={space.pk: vectors[i]})
        for i in range(rows)
    ]  # fmt: skip
    encode_started = time.perf_counter()
    for index, row in enumerate(data[:2000]):
        bulk.encode(row, index)
        bulk.encode_vector(
            bulk.VectorRow(index, space.pk, workspace.id, document.id, vectors[index])
        )
    encode_rate = 2000 / (time.perf_counter() - encode_started)
    results: dict[str, float] = {"encode_rows_per_s": encode_rate}
    # The same rows into copies of the tables (chunks and their vectors): without
    # any index or generated column (raw COPY), with the generated tsvector,
    # then the real indexed tables (GIN, and the space's partial HNSW index).
    for label, including in (
        ("copy_raw_rows_per_s", "INCLUDING DEFAULTS INCLUDING IDENTITY"),
        ("copy_with_tsvector_rows_per_s", "INCLUDING DEFAULTS INCLUDING IDENTITY "
         "INCLUDING GENERATED"),
    ):  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_chunk_bare")
            cursor.execute("DROP TABLE IF EXISTS bench_chunkvector_bare")
            cursor.execute(
                f"CREATE UNLOGGED TABLE bench_chunk_bare (LIKE documents_chunk "
                f"{including})"
            )
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_chunkvector_bare "
                "(LIKE documents_chunkvector INCLUDING DEFAULTS INCLUDING IDENTITY)"
            )
        original_sql, original_vector_sql = bulk._SQL, bulk._VECTOR_SQL
        try:
            bulk._SQL = original_sql.replace("documents_chunk", "bench_chunk_bare")
            bulk._VECTOR_SQL = original_vector_sql.replace(
                "documents_chunkvector", "bench_chunkvector_bare"
            )
            with transaction.atomic():
                started = time.perf_counter()
                bulk.copy_chunks(data)
                results[label] = rows / (time.perf_counter() - started)
        finally:
            bulk._SQL, bulk._VECTOR_SQL = original_sql, original_vector_sql
    with transaction.atomic():
        started = time.perf_counter()
        bulk.copy_chunks(data)
        results["copy_indexed_rows_per_s"] = rows / (time.perf_counter() - started)
    Chunk.objects.filter(document=document).delete()
    sample = min(rows, 3000)
    with transaction.atomic():
        started = time.perf_counter()
        created = Chunk.objects.bulk_create(
            [
                Chunk(document=document, workspace_id=workspace.id, ordinal=r.ordinal,
                      text=r.text, start_char=0, end_char=len(text), page=1,
                      heading="", token_estimate=280)
                for r in data[:sample]
            ],
            batch_size=500,
        )  # fmt: skip
        ChunkVector.objects.bulk_create(
            [
                ChunkVector(chunk=chunk, space=space, workspace_id=workspace.id,
                            document_id=document.id, embedding=r.vectors[space.pk])
                for chunk, r in zip(created, data[:sample], strict=True)
            ],
            batch_size=500,
        )  # fmt: skip
        results["bulk_create_indexed_rows_per_s"] = sample / (
            time.perf_counter() - started
        )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_chunkvector_bare")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_chunk_bare")
    document.delete()
    return results


def peak_memory(path: Path, latency: float) -> float:
    """Peak RSS in MB of a fresh process ingesting one file end to end (psutil)."""
    import psutil

    code = (
        "import sys; from bench import ingestion; ingestion.setup(); "
        f"ingestion.bench_pipeline([ingestion.Path({str(path)!r})], {latency})"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=BASE_DIR)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    if process.wait() != 0:
        raise RuntimeError("the peak-memory run failed")
    return peak / 1048576.0


def bench_langchain(pdfs: list[Path]) -> dict[str, float]:
    """The same files through LangChain's loader, splitter and PGVector."""
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from django.conf import settings
    from langchain_community.document_loaders import PyPDFium2Loader
    from langchain_core.embeddings import Embeddings
    from langchain_postgres import PGVector
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from documents.lexical import CHARS_PER_TOKEN
    from documents.remote.embeddings import OfflineEmbedder

    offline = OfflineEmbedder(1024)

    class CairnOffline(Embeddings):  # type: ignore[misc]
        """Cairn's offline embedder behind LangChain's interface."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return offline.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return offline.embed_query(text)

    db = settings.DATABASES["default"]
    options = db.get("OPTIONS") or {}
    host = db.get("HOST") or options.get("host") or "localhost"
    port = db.get("PORT") or options.get("port") or 5432
    url = (
        f"postgresql+psycopg://{db['USER']}:{db.get('PASSWORD') or ''}@/"
        f"{db['NAME']}?host={host}&port={port}"
    )
    store = PGVector(
        embeddings=CairnOffline(),
        collection_name=f"bench-{uuid.uuid4().hex[:6]}",
        connection=url,
        use_jsonb=True,
    )
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=350 * CHARS_PER_TOKEN,
        chunk_overlap=40 * CHARS_PER_TOKEN,
        add_start_index=True,
    )
    pages = chunks = 0
    load_s = store_s = 0.0
    started = time.perf_counter()
    for path in pdfs:
        t0 = time.perf_counter()
        documents = PyPDFium2Loader(str(path)).load()
        pieces = splitter.split_documents(documents)
        t1 = time.perf_counter()
        store.add_documents(pieces)
        t2 = time.perf_counter()
        load_s += t1 - t0
        store_s += t2 - t1
        pages += len(documents)
        chunks += len(pieces)
    total = time.perf_counter() - started
    store.delete_collection()
    return {
        "files": len(pdfs),
        "pages": pages,
        "chunks": chunks,
        "seconds": total,
        "extract_s": load_s,
        "index_s": store_s,
        "pages_per_s": pages / total,
        "chunks_per_s": chunks / total,
    }


def _row(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<28} {int(r['files']):>5} {int(r['pages']):>6} {int(r['chunks']):>7} "
        f"{r['seconds']:>8.2f} {r['extract_s']:>9.2f} {r['index_s']:>8.2f} "
        f"{r['pages_per_s']:>8.1f} {r['chunks_per_s']:>9.1f}"
    )


def main(argv: list[str]) -> int:
    """Run the ingestion suite and print its report."""
    parser = argparse.ArgumentParser(prog="bench ingestion")
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    pdfs = _pdfs()
    if not pdfs:
        print("bench ingestion: FinanceBench sample PDFs not found")
        return 1
    setup()
    print(f"\n== ingestion ({len(pdfs)} FinanceBench PDFs, Files API latency "
          f"{args.latency}s, offline embedder) ==")  # fmt: skip
    header = (
        f"{'pipeline':<28} {'files':>5} {'pages':>6} {'chunks':>7} {'total s':>8} "
        f"{'extract s':>9} {'index s':>8} {'pages/s':>8} {'chunks/s':>9}"
    )
    print(header)
    print(_row("cairn (upload+embed+COPY)", bench_pipeline(pdfs, args.latency)))
    try:
        print(_row("langchain PGVector", bench_langchain(pdfs)))
    except ImportError as exc:
        print(
            f"langchain peer unavailable ({exc}); pip install -r requirements-bench.txt"
        )
    inserts = bench_inserts(args.rows)
    print(f"\nchunk+vector inserts ({args.rows} rows, 1024-d):")
    for key, value in inserts.items():
        print(f"  {key:<34} {value:>10,.0f}")
    largest = max(pdfs, key=lambda p: p.stat().st_size)
    print(f"\nworker peak RSS ingesting {largest.name}: "
          f"{peak_memory(largest, args.latency):.0f} MB")  # fmt: skip
    return 0
