"""What metrics cost: one instrumented call, in process and in multiprocess mode,
and merging every process's files at scrape time as processes accumulate.

`python -m bench metrics`. No database: the scrape's database and broker reads
are the health page's (see `python -m bench pages`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

CALLS = 20_000
# One process's share of a busy day: every series Cairn has, moved once.
_WRITE = """
import sys, time
from documents.remote.errors import outside_call, record_error
from project import metrics
started = time.perf_counter()
for _ in range(int(sys.argv[1])):
    with outside_call("files_api"):
        pass
    metrics.INGEST_STAGE_SECONDS.labels("embed").observe(0.2)
print((time.perf_counter() - started) / int(sys.argv[1]) * 1e6)
for stage in ("extract", "chunk", "upload", "embed", "store"):
    metrics.INGEST_STAGE_SECONDS.labels(stage).observe(1.0)
metrics.ingested(pages=3, chunks=10)
metrics.answered(mode="claude", model="m", seconds=1.0,
                 usage={"input_tokens": 10, "output_tokens": 5})
record_error("voyage_embed", TimeoutError())
metrics.rate_limit_waited("files-api", 0.5)
"""


def _process(calls: int, folder: Path | None) -> float:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if folder is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    out = subprocess.run(
        [sys.executable, "-c", _WRITE, str(calls)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def _scrape_ms(folder: Path, rounds: int = 20) -> tuple[float, int]:
    files = sorted(str(p) for p in folder.glob("*.db"))
    started = time.perf_counter()
    for _ in range(rounds):
        registry = CollectorRegistry(auto_describe=False)

        class Files:
            def collect(self):  # type: ignore[no-untyped-def]
                return MultiProcessCollector.merge(files)  # type: ignore[no-untyped-call]

        registry.register(Files())
        body = generate_latest(registry)
    return (time.perf_counter() - started) / rounds * 1000, len(body)


def main(argv: list[str]) -> int:
    in_process = _process(CALLS, None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        multi = _process(CALLS, folder)
        print(f"metrics: one instrumented call + one histogram observation, {CALLS:,}x")
        print(f"  in process        {in_process:6.1f} us")
        print(f"  multiprocess mode {multi:6.1f} us (mmap files)")
        print("metrics: merging every process's files at scrape (no DB/broker part)")
        # More processes: copies of the one process's files under other pids
        # (the same series in each, as gunicorn and pool processes have).
        originals = sorted(folder.glob("*.db"))
        written = 1
        for processes in (1, 10, 50, 200):
            while written < processes:
                written += 1
                for original in originals:
                    kind = original.name.split("_")[0]
                    shutil.copy(original, folder / f"{kind}_{900000 + written}.db")
            ms, size = _scrape_ms(folder)
            print(f"  {processes:4d} processes' files: {ms:7.1f} ms, {size:,} bytes")
    return 0
