"""The limited child process: what no format bound foresaw still fails one document."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from documents.ingestion import sandbox
from documents.ingestion.bounds import Bounds
from documents.ingestion.extraction import HTML, PDF, TEXT
from tests.reliability.corpus import html_nested, pdf_many_pages

EXTRACT = {"kind": "extract", "mime_type": TEXT}


def test_a_file_that_needs_too_much_memory_fails_with_that_reason() -> None:
    data = ("word " * 20_000_000).encode()  # 100 MB of text, several copies
    run = sandbox.run_child(EXTRACT, data, Bounds(memory_mb=200), None)
    assert not run.ok
    assert "more than 200 MB of memory" in run.error
    assert run.peak_rss_mb < 200


def test_a_file_that_takes_too_long_is_stopped_at_the_time_limit() -> None:
    # With nesting left unflattened, Lexbor's tree builder is quadratic.
    bounds = Bounds(time_s=2, html_max_depth=10_000_000)
    job = {"kind": "extract", "mime_type": HTML}
    run = sandbox.run_child(job, html_nested(True), bounds, None)
    assert not run.ok
    assert "longer than 2 seconds" in run.error
    assert run.seconds < 2 + 5 + 3


def test_the_child_sees_no_secrets_of_the_worker() -> None:
    os.environ["CAIRN_TEST_SECRET"] = "hunter2"
    try:
        # The child's environment is rebuilt from a short allow-list.
        assert "CAIRN_TEST_SECRET" not in sandbox.child_environment()
    finally:
        del os.environ["CAIRN_TEST_SECRET"]


def test_progress_is_relayed_page_by_page() -> None:
    from tests.pdfs import make_pdf

    seen: list[tuple[int, int]] = []
    extracted = sandbox.extract_bounded(
        make_pdf([["a"], ["b"], ["c"]]),
        "application/pdf",
        bounds=Bounds(),
        on_page=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert extracted.page_starts == [0, 3, 6]


def test_the_child_is_killed_when_the_worker_gives_up_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[int] = []
    real_popen = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> Any:
        process = real_popen(*args, **kwargs)
        started.append(process.pid)
        return process

    def interrupted(done: int, total: int) -> None:
        raise KeyboardInterrupt  # stands in for Celery's SoftTimeLimitExceeded

    monkeypatch.setattr(subprocess, "Popen", popen)
    with pytest.raises(KeyboardInterrupt):
        sandbox.extract_bounded(
            pdf_many_pages(True),
            PDF,
            bounds=Bounds(pdf_max_pages=1_000_000),
            on_page=interrupted,
        )
    (pid,) = started
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: not running, not a zombie
