"""The fake Anthropic's code execution tool and container_upload blocks.

The tool is generally available in the versions the SDK types (anthropic 2.15.0:
code_execution_20250522, _20250825, _20260120, _20260521), with the same
options. A `container_upload` block (``{"type", "file_id", "cache_control"?}``,
user turns only) puts a Files API file into the container; without the tool in
the request the fake refuses it, as the API does.

The "model" runs one deterministic analysis per request with uploads: it reads
each uploaded table (CSV text, or an .xlsx through python-calamine), prints its
row count, columns and each numeric column's total and average, and saves
``summary.csv`` and ``chart.png``, registered as downloadable Files API files
(``downloadable: true``, created by the tool). The blocks have the SDK's shapes:
version 20250522 answers ``server_tool_use`` "code_execution" {"code"} and a
``code_execution_tool_result``; the later versions, which run bash and a file
editor, answer a ``text_editor_code_execution`` create of the script, then
``bash_code_execution`` {"command"} and its ``bash_code_execution_tool_result``.
The rules are written for the fake, not taken from Cairn.
"""

from __future__ import annotations

import csv
import io
import struct
import zlib
from collections.abc import Callable
from typing import Any

from python_calamine import CalamineWorkbook

from tests.fakes._server import random_id

TOOL_NAME = "code_execution"
_KEYS = frozenset(
    {"type", "name", "cache_control", "allowed_callers", "defer_loading", "strict"}
)
VERSIONS = frozenset(
    {
        "code_execution_20250522",
        "code_execution_20250825",
        "code_execution_20260120",
        "code_execution_20260521",
    }
)
SCRIPT_PATH = "/tmp/cairn_analysis.py"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Invalid = Callable[[str], Exception]
# (filename, mime type, bytes) -> the registered file's id.
Register = Callable[[str, str, bytes], str]


def check_tools(tools: Any, invalid: Invalid) -> dict[str, Any] | None:
    """The request's code execution tool, validated, or None without one."""
    found = None
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, dict):
            continue  # the web fetch checks refuse it
        kind = tool.get("type")
        if not (isinstance(kind, str) and kind.startswith("code_execution")):
            continue
        where = f"tools.{i}"
        if kind not in VERSIONS:
            raise invalid(
                f"{where}.type: Input tag {kind!r} found using 'type' does not "
                "match any of the expected tags"
            )
        extra = sorted(set(tool) - _KEYS)
        if extra:
            raise invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")
        if tool.get("name") != TOOL_NAME:
            raise invalid(f"{where}.name: Input should be {TOOL_NAME!r}")
        if found is not None:
            raise invalid("tools: only one code execution tool may be provided")
        found = tool
    return found


def check_container_upload(
    block: dict[str, Any], where: str, role: str, invalid: Invalid
) -> str:
    """Validate a container_upload block's shape; return its file id."""
    if role != "user":
        raise invalid(
            f"{where}: container_upload blocks are only allowed in user turns"
        )
    extra = sorted(set(block) - {"type", "file_id", "cache_control"})
    if extra:
        raise invalid(f"{where}.{extra[0]}: Extra inputs are not permitted")
    file_id = block.get("file_id")
    if not isinstance(file_id, str) or not file_id:
        raise invalid(f"{where}.file_id: Field required")
    return file_id


def require_tool(
    uploads: list[Any], tool: dict[str, Any] | None, invalid: Invalid
) -> None:
    """Refuse container_upload blocks in a request without the code execution tool."""
    if uploads and tool is None:
        raise invalid(
            "container_upload blocks can only be used with the code execution "
            "tool: add a code_execution tool to `tools`."
        )


# The run ------------------------------------------------------------------------


def run(
    tool: dict[str, Any], uploads: list[tuple[str, str, bytes]], register: Register
) -> tuple[list[dict[str, Any]], str]:
    """The tool blocks of one analysis over the uploads, and a sentence on it."""
    lines, summary = _analyse(uploads)
    stdout = "\n".join(lines) + "\n"
    outputs = [
        register("summary.csv", "text/csv", summary.encode()),
        register("chart.png", "image/png", _png(len(lines))),
    ]
    script = _script([name for name, _, _ in uploads])
    if tool["type"] == "code_execution_20250522":
        use_id = random_id("srvtoolu_01", 22)
        blocks = [
            _use(use_id, "code_execution", {"code": script}),
            {
                "type": "code_execution_tool_result",
                "tool_use_id": use_id,
                "content": _result("code_execution", stdout, outputs),
            },
        ]
    else:
        edit_id, bash_id = random_id("srvtoolu_01", 22), random_id("srvtoolu_01", 22)
        blocks = [
            _use(
                edit_id,
                "text_editor_code_execution",
                {"command": "create", "path": SCRIPT_PATH, "file_text": script},
            ),
            {
                "type": "text_editor_code_execution_tool_result",
                "tool_use_id": edit_id,
                "content": {
                    "type": "text_editor_code_execution_create_result",
                    "is_file_update": False,
                },
            },
            _use(bash_id, "bash_code_execution", {"command": f"python {SCRIPT_PATH}"}),
            {
                "type": "bash_code_execution_tool_result",
                "tool_use_id": bash_id,
                "content": _result("bash_code_execution", stdout, outputs),
            },
        ]
    return blocks, f"The code I ran over the data printed: {' '.join(lines)} "


def _use(use_id: str, name: str, given: dict[str, Any]) -> dict[str, Any]:
    return {"type": "server_tool_use", "id": use_id, "name": name, "input": given}


def _result(prefix: str, stdout: str, outputs: list[str]) -> dict[str, Any]:
    return {
        "type": f"{prefix}_result",
        "stdout": stdout,
        "stderr": "",
        "return_code": 0,
        "content": [{"type": f"{prefix}_output", "file_id": f} for f in outputs],
    }


def _script(names: list[str]) -> str:
    return (
        "import pandas as pd\n"
        f"for name in {names!r}:\n"
        "    read = pd.read_excel if name.endswith('.xlsx') else pd.read_csv\n"
        "    df = read(name)\n"
        "    print(f'{name}: {len(df)} rows')\n"
        "    print(df.select_dtypes('number').agg(['sum', 'mean']))\n"
        "df.to_csv('summary.csv')\n"
        "df.plot().figure.savefig('chart.png')\n"
    )


def _analyse(uploads: list[tuple[str, str, bytes]]) -> tuple[list[str], str]:
    """Per file: rows, columns, each numeric column's total and average."""
    lines: list[str] = []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "column", "total", "average"])
    for name, mime_type, data in uploads:
        rows = _table(mime_type, data)
        header, body = (rows[0], rows[1:]) if rows else ([], [])
        lines.append(f"{name}: {len(body)} rows; columns: {', '.join(header)}.")
        for index, column in enumerate(header):
            values = [_number(row[index]) for row in body if index < len(row)]
            numbers = [v for v in values if v is not None]
            if numbers and len(numbers) == len(values):
                total = sum(numbers)
                average = total / len(numbers)
                lines.append(f"{column}: total {total:g}, average {average:.2f}.")
                writer.writerow([name, column, f"{total:g}", f"{average:.2f}"])
    return lines, out.getvalue()


def _table(mime_type: str, data: bytes) -> list[list[str]]:
    if mime_type == XLSX:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0)
        return [
            [_cell(value) for value in row] for row in sheet.iter_rows() if any(row)
        ]
    text = data.decode("utf-8-sig", errors="replace")
    return [row for row in csv.reader(io.StringIO(text)) if row]


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _png(seed: int) -> bytes:
    """A small valid PNG (8x8 grey), its shade from `seed`."""
    shade = (seed * 37) % 256
    raw = b"".join(b"\x00" + bytes([shade]) * 8 for _ in range(8))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
