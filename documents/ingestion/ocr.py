"""Offline OCR: PP-OCR models on ONNX Runtime (rapidocr-onnxruntime), in the child.

The engine installs from requirements.txt alone and ships its detection,
angle and recognition models inside its wheel: nothing is downloaded, no
PyTorch. It runs only in the extraction child (documents.ingestion.child),
whose address space is raised from EXTRACT_MEMORY_MB to OCR_MEMORY_MB just
before ONNX Runtime loads, and whose CPU and wall-clock limits bound every
page; ONNX Runtime gets OCR_THREADS threads (1 or 2: workers share the cores).
The engine choice and its measured figures are in benchmarks/ocr.md.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from documents.ingestion.bounds import Bounds

# Text boxes whose vertical centres are this close (in line heights) share a row.
_SAME_ROW = 0.5
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


def _raise_memory_limit() -> None:
    """Let the child use its OCR budget: the soft address-space limit up to the hard.

    documents.ingestion.child sets the hard limit to OCR_MEMORY_MB and the soft
    one to EXTRACT_MEMORY_MB, so parsing keeps the smaller bound.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _engine(threads: int) -> Any:
    engine = _engines.get(threads)
    if engine is None:
        _raise_memory_limit()
        # Imported here: ONNX Runtime and OpenCV load only in a child that OCRs.
        from rapidocr_onnxruntime import RapidOCR

        engine = RapidOCR(intra_op_num_threads=max(1, threads), inter_op_num_threads=1)
        _engines[threads] = engine
    return engine


def lines_of(result: list[Any] | None) -> list[Line]:
    """The engine's boxes ([[corner x, y] x 4], text, score) as Lines."""
    lines = []
    for box, text, _score in result or []:
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
    result, _elapsed = engine(pixels)
    return reading_order(lines_of(result))
