"""Hostile and broken uploads: each fails its own document clearly, or ends ready,
within bounded memory (issue 16).

Every case of tests/reliability/corpus.py runs through the whole pipeline in
this process (standing in for the worker: upload, extraction in the limited
child, chunking, embedding, storing). Two figures are asserted under 500 MB: the
extraction child's peak RSS, and this process's own peak RSS during the case
(VmHWM, reset before each case through /proc/self/clear_refs). The small cases
run in the normal suite; `make test-reliability` runs the issue's full sizes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from documents.ingestion import sandbox
from documents.ingestion.child import peak_rss_kb
from documents.models import Chunk, Document
from tests.conftest import ingested
from tests.reliability.corpus import CASES, Case

LIMIT_MB = 500
# What a person should never read in a failure: parser internals.
JARGON = re.compile(
    r"lxml|XML_PARSE_HUGE|libxml|recursion|PdfiumError|Traceback|Errno", re.I
)
_REPORT: list[str] = []


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def report(request: Any) -> Iterator[list[str]]:
    """Rows of the per-case table, printed and kept under var/ at the end."""
    yield _REPORT
    if not _REPORT:
        return
    header = (
        f"{'case':22} {'size':>9} {'outcome':8} {'child MB':>9} "
        f"{'worker MB':>10} {'growth MB':>10} {'seconds':>8}"
    )
    table = "\n".join([header, *_REPORT])
    path = Path(django_settings.VAR_DIR) / "reliability-report.txt"
    path.write_text(table + "\n", encoding="utf-8")
    writer = request.config.pluginmanager.get_plugin("terminalreporter")
    if writer is not None:
        writer.write_line("\n" + table)


def _run_case(
    case: Case, full: bool, user: Any, monkeypatch: Any, settings: Any
) -> None:
    if not full:
        for name, value in case.small_settings.items():
            setattr(settings, name, value)
    runs: list[sandbox.ChildRun] = []
    real_run_child = sandbox.run_child

    def spy(*args: Any, **kwargs: Any) -> sandbox.ChildRun:
        run = real_run_child(*args, **kwargs)
        runs.append(run)
        return run

    monkeypatch.setattr(sandbox, "run_child", spy)
    data = case.build(full)
    measured = _reset_peak()
    # Right after the reset the peak is the current size.
    baseline = peak_rss_kb() / 1024
    started = time.monotonic()
    document = ingested(user, case.filename, data)
    seconds = time.monotonic() - started
    worker_peak = peak_rss_kb() / 1024
    child_peak = max((run.peak_rss_mb for run in runs), default=0.0)
    _REPORT.append(
        f"{case.name:22} {len(data):>9,} {document.status:8} {child_peak:>9.0f} "
        f"{worker_peak:>10.0f} {worker_peak - baseline:>10.0f} {seconds:>8.1f}"
        + ("" if measured else "  (peak not resettable)")
    )

    assert document.status == case.outcome, document.error
    if case.outcome == "failed":
        assert re.search(case.reason, document.error), document.error
        assert not JARGON.search(document.error), document.error
        assert not Chunk.objects.filter(document=document).exists()
    else:
        assert document.error == ""
        assert Chunk.objects.filter(document=document).exists()
    assert runs, "extraction did not run in the limited child process"
    assert child_peak < LIMIT_MB
    if measured:
        assert worker_peak < LIMIT_MB


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_file_fails_clearly_or_ends_ready_within_bounds(
    case: Case, user: Any, monkeypatch: Any, settings: Any, report: list[str]
) -> None:
    _run_case(case, False, user, monkeypatch, settings)


@pytest.mark.reliability
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_at_full_size_too(
    case: Case, user: Any, monkeypatch: Any, settings: Any, report: list[str]
) -> None:
    _run_case(case, True, user, monkeypatch, settings)


def test_the_text_of_a_wide_encoding_is_read_whole(user: Any) -> None:
    for case in CASES:
        if case.name.startswith("utf"):
            document = ingested(user, case.filename, case.build(False))
            assert document.status == Document.Status.READY
            assert "東京の会議は十時です。" in document.text
            assert "\x00" not in document.text
