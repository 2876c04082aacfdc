"""The Celery queue names, importable without Django settings.

`python -m project.run --role ...` builds worker command lines from these
before anything loads settings (which would start the embedded database).
"""

from __future__ import annotations

DEFAULT_QUEUE = "celery"
# CPU-bound extraction and network-bound API calls wait in separate queues, so a
# slow Files API never holds up extraction and a huge PDF never starves uploads.
CPU_QUEUE = "ingest_cpu"
IO_QUEUE = "ingest_io"
ALL_QUEUES = f"{DEFAULT_QUEUE},{CPU_QUEUE},{IO_QUEUE}"
