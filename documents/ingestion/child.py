"""The limited child process: `python -m documents.ingestion.child JOB`.

It sets its own address-space, CPU and core-dump limits before loading any
parser, reads the file from stdin, and writes one JSON header line then the
payload (UTF-8 text, or PNG bytes) to stdout (a refusal's header carries its
reason and its failure kind); page progress goes to stderr as
`progress DONE TOTAL` lines. It never imports Django: it needs no database,
no settings and no secrets (documents.ingestion.sandbox starts it with a bare
environment). JOB is JSON: {"kind": "extract"|"render", "bounds": {...}, ...}.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
from typing import Any

from documents.ingestion.bounds import Bounds

PROGRESS = "progress"


def _limit(bounds: Bounds) -> None:
    memory = bounds.memory_mb * 1048576
    # OCR (ONNX Runtime and its models) may raise the soft limit up to the hard
    # one, OCR_MEMORY_MB, just before it loads (documents.ingestion.ocr); every
    # parser keeps EXTRACT_MEMORY_MB.
    ocr = bounds.ocr_memory_mb * 1048576 if bounds.ocr_enabled else 0
    resource.setrlimit(resource.RLIMIT_AS, (memory, max(memory, ocr)))
    # The CPU limit sends SIGXCPU, then SIGKILL five seconds later; OCR lifts
    # the soft limit to OCR_TIME_LIMIT_S as it does the memory one.
    cpu = bounds.wall_s
    resource.setrlimit(resource.RLIMIT_CPU, (bounds.time_s, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def peak_rss_kb(pid: int | str = "self") -> int:
    """A process's peak resident set (VmHWM) in kB, or 0 once it is gone.

    VmHWM starts afresh at exec; getrusage's ru_maxrss would carry the size of
    the parent that forked the child.
    """
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _progress(done: int, total: int) -> None:
    sys.stderr.write(f"{PROGRESS} {done} {total}\n")
    sys.stderr.flush()


def _run(
    job: dict[str, Any], bounds: Bounds, data: bytes
) -> tuple[dict[str, Any], bytes]:
    # The parsers load only now, inside the memory and CPU limits set above.
    from documents.ingestion import extraction, images, pdf

    if job["kind"] == "render":
        max_pixels = int(job.get("max_pixels") or bounds.render_max_pixels)
        if job.get("mime_type") in images.IMAGE_TYPES:
            png = images.render(
                data, job["mime_type"], max_pixels=max_pixels, bounds=bounds
            )
        else:
            png = pdf.render_page(data, int(job["page"]), max_pixels=max_pixels)
        return {"ok": True}, png
    extracted = extraction.extract(
        data, job["mime_type"], on_page=_progress, bounds=bounds
    )
    header = {
        "ok": True,
        "mime_type": extracted.mime_type,
        "page_starts": extracted.page_starts,
        "metadata_title": extracted.metadata_title,
        "heading": extracted.heading,
        "ocr_pages": extracted.ocr_pages,
        "unreadable_pages": extracted.unreadable_pages,
    }
    return header, extracted.text.encode("utf-8", errors="surrogatepass")


def main(argv: list[str]) -> int:
    job = json.loads(argv[1])
    bounds = Bounds.from_json(job["bounds"])
    _limit(bounds)
    payload = b""
    try:
        data = sys.stdin.buffer.read()
        header, payload = _run(job, bounds, data)
    except MemoryError:
        header = {"ok": False, "limit": "memory"}
    except Exception as exc:
        # Inside the limits, as in _run.
        from documents.ingestion.extraction import ExtractionError
        from documents.ingestion.formats import FormatError

        if isinstance(exc, ExtractionError | FormatError):
            # The kind crosses the process boundary with the reason.
            header = {"ok": False, "error": str(exc), "failure_kind": exc.kind}
        else:
            traceback.print_exc()
            header = {"ok": False, "crash": f"{type(exc).__name__}: {exc}"[:500]}
    header["peak_rss_kb"] = peak_rss_kb()
    out = sys.stdout.buffer
    out.write(json.dumps(header).encode() + b"\n")
    out.write(payload)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
