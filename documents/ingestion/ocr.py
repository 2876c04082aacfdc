"""Offline OCR: PP-OCRv6 models on ONNX Runtime (rapidocr), in the extraction child.

The engine installs from requirements.txt alone and ships its detection,
angle and recognition models inside its wheel: nothing is downloaded, no
PyTorch. It runs only in the extraction child (documents.ingestion.child),
whose address space and CPU time are raised from EXTRACT_MEMORY_MB and
EXTRACT_TIME_LIMIT_S to OCR_MEMORY_MB and OCR_TIME_LIMIT_S just before ONNX
Runtime loads (and no further: a document's OCR stays within them); ONNX
Runtime gets OCR_THREADS threads (1 or 2: workers share the cores).
The engine choice and its measured figures are in bench/ocr.md.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from documents.ingestion.bounds import Bounds

# Text boxes whose vertical centres are this close (in line heights) share a row.
_SAME_ROW = 0.5
# The detector's input: the longer side at most this many pixels (bench/ocr.md:
# 960, 1280 and 1600 read a filing page equally well; more costs time).
DETECT_SIDE = 1280
# Seconds between SIGXCPU and SIGKILL (documents.ingestion.child's margin).
CPU_GRACE_S = 5
# The engine is slow to load (models, sessions); one per child process.
_engines: dict[int, Any] = {}


@dataclass(frozen=True)
class Line:
    """One recognised text box: its text and its place on the page."""

    text: str
    left: float
    top: float
    bottom: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 1.0)


def _raise_limits() -> None:
    """Let the child use its OCR budgets: address space and CPU time.

    documents.ingestion.child sets the soft limits to EXTRACT_MEMORY_MB and
    EXTRACT_TIME_LIMIT_S and the hard ones to OCR_MEMORY_MB and
    OCR_TIME_LIMIT_S, so parsing keeps the smaller bounds; OCR lifts the soft
    limits to the hard ones just before it loads.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard > soft + CPU_GRACE_S:
        # SIGXCPU at the new soft limit, SIGKILL at the hard one just after it.
        resource.setrlimit(resource.RLIMIT_CPU, (hard - CPU_GRACE_S, hard))


def _engine(threads: int) -> Any:
    engine = _engines.get(threads)
    if engine is None:
        _raise_limits()
        # Imported here: ONNX Runtime and OpenCV load only in a child that OCRs.
        import rapidocr

        models = Path(rapidocr.__file__).parent / "models"
        engine = rapidocr.RapidOCR(
            params={
                # The models in the wheel, named: with a model_path rapidocr
                # never looks anything up (or downloads it) by language.
                "Det.model_path": str(models / "PP-OCRv6_det_small.onnx"),
                "Rec.model_path": str(models / "PP-OCRv6_rec_small.onnx"),
                "Cls.model_path": str(models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
                # Scans and images come upright: the angle classifier would cost
                # a pass over every line for nothing.
                "Global.use_cls": False,
                "Global.log_level": "warning",
                "EngineConfig.onnxruntime.intra_op_num_threads": max(1, threads),
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                # The detector sees the page at most DETECT_SIDE pixels long,
                # never scaled up (the default scales the short side up to 736,
                # so a strip of text became a 4000-pixel bitmap and gigabytes).
                "Det.limit_type": "max",
                "Det.limit_side_len": DETECT_SIDE,
                # One line at a time: six at once (the default) peaked at 1.8 GB
                # of address space on a filing page, one at 1.2 GB, as accurate
                # and faster on one thread (bench/ocr.md).
                "Rec.rec_batch_num": 1,
            }
        )
        _engines[threads] = engine
    return engine


def lines_of(boxes: Any, texts: Any) -> list[Line]:
    """The engine's boxes ([[corner x, y] x 4]) and their texts as Lines."""
    lines = []
    for box, text in zip(boxes if boxes is not None else [], texts or (), strict=False):
        xs = [float(point[0]) for point in box]
        ys = [float(point[1]) for point in box]
        if str(text).strip():
            lines.append(Line(str(text).strip(), min(xs), min(ys), max(ys)))
    return lines


def reading_order(lines: list[Line]) -> str:
    """Lines joined as a page reads: rows top to bottom, boxes in a row left to right.

    Boxes on one row (a table's cells, a label and its value) are joined with
    spaces, so a row reads as one line, like a text layer's.
    """
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda item: item.middle):
        row = rows[-1] if rows else None
        if row is not None and abs(line.middle - row[-1].middle) <= _SAME_ROW * min(
            line.height, row[-1].height
        ):
            row.append(line)
        else:
            rows.append([line])
    return "\n".join(
        " ".join(item.text for item in sorted(row, key=lambda item: item.left))
        for row in rows
    )


def recognise(picture: Image.Image, *, bounds: Bounds) -> str:
    """The text of one page or image, in reading order ('' when none is found)."""
    engine = _engine(bounds.ocr_threads)
    # OpenCV's channel order.
    pixels = np.ascontiguousarray(np.asarray(picture.convert("RGB"))[:, :, ::-1])
    try:
        result = engine(pixels)
    except Exception as exc:
        # ONNX Runtime reports the address-space limit as a C++ bad_alloc.
        if "bad_alloc" in str(exc):
            raise MemoryError(str(exc)[:200]) from exc
        raise
    return reading_order(lines_of(result.boxes, result.txts))
