"""Excel extraction: python-calamine against openpyxl, and what Cairn's path costs.

`python -m bench sheets [--rows 50000] [--repeat 2]` writes a workbook of one
sheet (six columns: text, numbers, a comma inside quotes) and prints, each in a
fresh process so peak RSS is that reader's own: every cell read by calamine and
by openpyxl's read-only mode (a peer, from requirements-bench.txt), Cairn's
bounds check alone (documents.ingestion.sheets.xlsx_check) and the whole
extraction in the limited child process. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.sheets import xlsx_bytes

_READ = """
import sys, time
kind, path = sys.argv[1], sys.argv[2]
started = time.perf_counter()
cells = 0
if kind == "calamine":
    from python_calamine import CalamineWorkbook
    book = CalamineWorkbook.from_path(path)
    for name in book.sheet_names:
        for row in book.get_sheet_by_name(name).iter_rows():
            cells += len(row)
elif kind == "openpyxl":
    import openpyxl
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells += len(row)
else:
    from documents.ingestion import sheets
    from documents.ingestion.bounds import Bounds
    sheets.xlsx_check(open(path, "rb").read(), Bounds())
seconds = time.perf_counter() - started
# VmHWM starts afresh at exec; ru_maxrss would carry the bench's own size.
peak = next(
    int(line.split()[1]) // 1024
    for line in open("/proc/self/status")
    if line.startswith("VmHWM:")
)
print(f"{seconds:.2f} {peak} {cells}")
"""


def workbook(rows: int) -> bytes:
    """One sheet of `rows` rows under a header, deterministic."""
    pick = random.Random(1)
    body: list[list[object]] = [
        ["region", "quarter", "product", "units", "revenue", "note"]
    ]
    for n in range(rows):
        body.append(
            [
                pick.choice(["north", "south", "east", "west"]),
                f"Q{n % 4 + 1}",
                f"product {n % 97}",
                pick.randint(1, 500),
                round(pick.random() * 10_000, 2),
                "ok" if n % 3 else "late delivery, check",
            ]
        )
    return xlsx_bytes({"Sales": body})


def _reader(kind: str, path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _READ, kind, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1:]}"
    seconds, peak, cells = done.stdout.split()
    extra = f", {int(cells):,} cells" if cells != "0" else ""
    return f"{seconds} s, peak RSS {peak} MB{extra}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sheets")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=2)
    args, _ = parser.parse_known_args([a for a in argv if a != "sheets"])
    # Imported here: Django settings load only once the bench runs.
    import django

    django.setup()
    from documents.ingestion import bounds
    from documents.ingestion.extraction import XLSX
    from documents.ingestion.sandbox import run_child

    data = workbook(args.rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sales.xlsx"
        path.write_bytes(data)
        print(f"sheets: {args.rows:,} rows x 6 columns, {len(data):,} bytes")
        for attempt in range(1, args.repeat + 1):
            for kind in ("calamine", "openpyxl", "check"):
                print(f"  run {attempt} {kind:9} {_reader(kind, path)}")
            started = time.perf_counter()
            run = run_child(
                {"kind": "extract", "mime_type": XLSX},
                data,
                bounds.from_settings(),
                None,
            )
            print(
                f"  run {attempt} child     {time.perf_counter() - started:.2f} s, "
                f"peak RSS {run.peak_rss_mb:.0f} MB, "
                f"{len(run.payload):,} bytes of text{'' if run.ok else run.error}"
            )
    return 0
