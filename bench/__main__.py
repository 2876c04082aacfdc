"""Run the benchmarks named on the command line, or all of them."""

from __future__ import annotations

import importlib
import os
import sys

# Each module exposes main(argv) -> int and prints its own report.
SUITES = {
    "ingestion": "ingestion",
    "retrieval": "retrieval",
    "retrieval-corpus": "corpus",
    "tuning": "tuning",
    "pages": "pages",
    "web": "web",
    "metrics": "metrics",
    "sheets": "sheets",
    "load": "load",
    "ocr": "ocr",
}


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("CAIRN_VAR_DIR", os.path.abspath("var/bench"))
    # retrieval-corpus loads 17,000 pages (and load needs it): they run only when named.
    names = [a for a in sys.argv[1:] if a in SUITES] or ["ingestion", "retrieval"]
    status = 0
    for name in names:
        try:
            module = importlib.import_module(f"bench.{SUITES[name]}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{SUITES[name]}":
                raise
            print(f"bench: no suite {name!r} yet")
            continue
        status |= int(module.main(sys.argv[1:]))
    return status


if __name__ == "__main__":
    sys.exit(main())
