"""Extraction and page rendering in a child process with memory and time limits.

A hostile file (a zip bomb, a PDF whose page inflates to gigabytes, markup
nested a million deep) must fail its own document and nothing else. The format
bounds (documents.ingestion.bounds) refuse what they can foresee; this module
runs the parsers in `python -m documents.ingestion.child` under RLIMIT_AS and
RLIMIT_CPU with a wall-clock deadline, so whatever slips past them costs at most
EXTRACT_MEMORY_MB and EXTRACT_TIME_LIMIT_S, and the worker itself never grows.
The child's peak RSS (VmHWM, which exec resets; wait4's ru_maxrss would carry
the parent's size across the fork) is logged for every run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from documents.ingestion import child, images, kinds
from documents.ingestion.bounds import Bounds
from documents.ingestion.extraction import PDF, Extracted, ExtractionError

log = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parents[2]
# Seconds past the CPU limit before the wall clock ends a child that sleeps.
_GRACE_S = 5
_POLL_S = 0.02
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "HOME")
# OpenMP and BLAS pools (OpenCV, NumPy) stay at one thread: each thread reserves
# address space under the child's RLIMIT_AS, and the workers share the cores.
_ENV_FIXED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

Source = bytes | IO[bytes]


@dataclass
class ChildRun:
    """What one child process did: its answer, and what it cost."""

    header: dict[str, Any]
    payload: bytes
    peak_rss_mb: float
    seconds: float
    error: str = ""
    # The failure's kind (documents.ingestion.kinds) when error is set.
    failure_kind: str = ""
    log_tail: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return not self.error


def child_environment() -> dict[str, str]:
    """The child's environment: locale and paths only, never the worker's secrets."""
    kept = {key: os.environ[key] for key in _ENV_KEEP if key in os.environ}
    return kept | _ENV_FIXED


def extract_bounded(
    source: Source,
    mime_type: str,
    *,
    bounds: Bounds,
    on_page: Callable[[int, int], None] | None = None,
) -> Extracted:
    """extraction.extract in a limited child; ExtractionError on any failure."""
    if mime_type != PDF and mime_type not in images.IMAGE_TYPES:
        # Only scans and images are OCRed: every other format keeps the
        # smaller memory and time limits throughout.
        bounds = dataclasses.replace(bounds, ocr_enabled=0)
    run = run_child(
        {"kind": "extract", "mime_type": mime_type}, source, bounds, on_page
    )
    if not run.ok:
        raise ExtractionError(run.error, kind=run.failure_kind)
    return Extracted(
        text=run.payload.decode("utf-8", errors="surrogatepass"),
        mime_type=run.header["mime_type"],
        page_starts=list(run.header["page_starts"]),
        metadata_title=str(run.header.get("metadata_title") or ""),
        heading=str(run.header.get("heading") or ""),
        ocr_pages=[int(page) for page in run.header.get("ocr_pages") or []],
        unreadable_pages=[
            int(page) for page in run.header.get("unreadable_pages") or []
        ],
    )


def render_bounded(
    source: Source,
    page_number: int,
    *,
    bounds: Bounds,
    mime_type: str = "application/pdf",
    max_pixels: int | None = None,
) -> bytes:
    """One PDF page, or an image, as PNG within max_pixels (PAGE_IMAGE_MAX_PIXELS),
    rendered in a limited child; ExtractionError if not."""
    job = {
        "kind": "render",
        "page": page_number,
        "mime_type": mime_type,
        "max_pixels": max_pixels or bounds.render_max_pixels,
    }
    run = run_child(job, source, dataclasses.replace(bounds, ocr_enabled=0), None)
    if not run.ok:
        raise ExtractionError(run.error, kind=run.failure_kind)
    return run.payload


def run_child(
    job: dict[str, Any],
    source: Source,
    bounds: Bounds,
    on_progress: Callable[[int, int], None] | None,
) -> ChildRun:
    """Run one job in the child process and wait for it within the time limit."""
    argument = json.dumps(job | {"bounds": bounds.to_json()})
    command = [sys.executable, "-E", "-s", "-m", child.__name__, argument]
    env = child_environment()
    with (
        _stdin_for(source) as stdin,
        tempfile.TemporaryFile() as stdout,
        tempfile.TemporaryFile() as stderr,
    ):
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdin=stdin, stdout=stdout, stderr=stderr, cwd=BASE_DIR, env=env
        )
        try:
            status, polled_kb, timed_out, tail = _wait(
                process, stderr, started + bounds.wall_s + _GRACE_S, on_progress
            )
        except BaseException:
            # The task's soft time limit, a shutdown: never leave the child behind.
            process.kill()
            process.wait()
            raise
        seconds = time.monotonic() - started
        stdout.seek(0)
        header_line = stdout.readline()
        payload = stdout.read()
    try:
        header = json.loads(header_line) if header_line else {}
    except ValueError:
        header = {}
    # The child's own figure at exit is exact; polling is a lower bound for a
    # child that died before it could report.
    peak_kb = max(polled_kb, int(header.get("peak_rss_kb") or 0))
    run = ChildRun(
        header=header,
        payload=payload,
        peak_rss_mb=peak_kb / 1024,
        seconds=seconds,
        log_tail=tail,
    )
    run.error, run.failure_kind = _failure(run.header, status, timed_out, bounds)
    level = logging.WARNING if run.error else logging.INFO
    log.log(
        level,
        "%s child: %.1fs, peak RSS %.0f MB, exit %s%s",
        job["kind"],
        seconds,
        run.peak_rss_mb,
        _exit_name(status),
        f", failed: {run.error}" if run.error else "",
    )
    if run.header.get("crash") or (run.error and tail):
        log.warning("%s child output:\n%s", job["kind"], tail[-4000:])
    return run


@contextlib.contextmanager
def _stdin_for(source: Source) -> Iterator[IO[bytes]]:
    """The file the child reads: the stored original itself where it is a file."""
    if not isinstance(source, bytes):
        try:
            source.fileno()
        except (AttributeError, OSError, ValueError):
            source = source.read()
        else:
            source.seek(0)
            yield source
            return
    with tempfile.TemporaryFile() as copy:
        copy.write(source)
        copy.seek(0)
        yield copy


def _wait(
    process: subprocess.Popen[bytes],
    stderr: IO[bytes],
    deadline: float,
    on_progress: Callable[[int, int], None] | None,
) -> tuple[int, int, bool, str]:
    """Reap the child, relaying its progress and sampling its peak RSS (kB)."""
    timed_out = False
    seen = 0
    tail = ""
    peak_kb = 0
    while True:
        peak_kb = max(peak_kb, child.peak_rss_kb(process.pid))
        pid, status = os.waitpid(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            timed_out = True
            process.kill()
            pid, status = os.waitpid(process.pid, 0)
            break
        seen, tail = _relay(stderr, seen, tail, on_progress)
        time.sleep(_POLL_S)
    _seen, tail = _relay(stderr, seen, tail, None)
    # Popen must not wait for (or warn about) a child already reaped here.
    process.returncode = os.waitstatus_to_exitcode(status)
    return status, peak_kb, timed_out, tail


def _relay(
    stderr: IO[bytes],
    seen: int,
    tail: str,
    on_progress: Callable[[int, int], None] | None,
) -> tuple[int, str]:
    """Read what the child wrote to stderr since `seen`; pass progress on."""
    stderr.seek(seen)
    chunk = stderr.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    for line in complete.decode("utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == child.PROGRESS:
            if on_progress is not None:
                on_progress(int(parts[1]), int(parts[2]))
        else:
            tail = (tail + line + "\n")[-16_000:]
    return seen + len(complete), tail


def _exit_name(status: int) -> str:
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return str(os.WEXITSTATUS(status))


def _failure(
    header: dict[str, Any], status: int, timed_out: bool, bounds: Bounds
) -> tuple[str, str]:
    """Why a run failed, for the person who uploaded the file, and its kind.

    ('', '') when it did not. A limit the file ran into is `unreadable`, whose
    page shows the reason (the limit, in words); a crash of the parser is
    `internal`, as its text is a traceback's, not a person's.
    """
    limit = f"{bounds.time_s} seconds"
    if bounds.wall_s > bounds.time_s:
        limit += f" ({bounds.wall_s} seconds once it reads text by OCR)"
    too_slow = (
        f"Reading this file took longer than {limit}, the limit for one "
        "document; it may be damaged or built to exhaust the server."
    )
    ocr = (
        f" ({bounds.ocr_memory_mb} MB once it reads text by OCR)"
        if bounds.ocr_enabled and bounds.ocr_memory_mb > bounds.memory_mb
        else ""
    )
    too_big = (
        f"Reading this file needed more than {bounds.memory_mb} MB of memory{ocr}, "
        "the limit for one document; it may be damaged or built to exhaust the "
        "server."
    )
    if timed_out:
        return too_slow, kinds.UNREADABLE
    if header.get("ok"):
        return "", ""
    if header.get("error"):
        return str(header["error"]), str(header.get("failure_kind") or kinds.UNREADABLE)
    if header.get("limit") == "memory":
        return too_big, kinds.UNREADABLE
    if header.get("crash"):
        return f"Extraction failed unexpectedly ({header['crash']}).", kinds.INTERNAL
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU:
            return too_slow, kinds.UNREADABLE
        if number == signal.SIGKILL:
            # Not ours (timeouts are handled above): the kernel's OOM killer.
            return too_big, kinds.UNREADABLE
        # (The log line names the signal; people get what it means for them.)
        return (
            "Reading this file stopped the extractor: the file may be damaged, or "
            f"need more than the {bounds.memory_mb} MB of memory one document may "
            "use.",
            kinds.UNREADABLE,
        )
    return (
        f"Extraction failed unexpectedly (exit status {os.WEXITSTATUS(status)}).",
        kinds.INTERNAL,
    )
