"""Claude's code execution tool over retrieved CSV and Excel documents.

When the workspace allows it (on by default) and a question asks for a
computation (an average, a total, a count, a maximum, a ratio, growth...) while
a CSV or Excel document is among the retrieved ones, the request gets the code
execution tool and each such document's original file as a `container_upload`
block. The test for "asks for a computation" is a plain word list, on purpose:
it is easy to predict, and a miss only means Claude answers from the rows it
reads, as it would without the tool.

The datasets are uploaded for the one answer (with a one-hour expiry) and
deleted after it; files the code made are downloaded, stored with the answer
(AnswerArtifact) and deleted remotely. A delete that fails leaves a tombstone
the beat task retries. The tool is generally available: no beta header.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile

from documents.ingestion.extraction import TABULAR
from documents.models import Document, Workspace
from documents.remote import files_api
from documents.remote.files import remote_file_forget
from search.models import Answer, AnswerArtifact
from search.retrieval import Hit

log = logging.getLogger(__name__)

# The newest version the SDK types (anthropic 2.15.0: CodeExecutionTool20260521
# Param, in the GA types). Like 20250825 it gives Claude bash and a file
# editor; 20260120 and later keep the Python REPL's state between calls.
TOOL_TYPE = "code_execution_20260521"
TOOL_NAME = "code_execution"
# Server tools the code execution tool runs as, and the result block of each.
RESULT_TYPES = {
    "code_execution_tool_result": "code_execution",
    "bash_code_execution_tool_result": "bash_code_execution",
    "text_editor_code_execution_tool_result": "text_editor_code_execution",
}
TOOL_NAMES = frozenset(RESULT_TYPES.values())
MAX_DATASETS = 3
MAX_OUTPUT_FILES = 10
MAX_ARTIFACT_BYTES = 20 * 1048576
MAX_STORED_CHARS = 20_000
SYSTEM_ADDITION = (
    " The spreadsheet and CSV files among the documents are also in the code "
    "execution container's input directory, as their original files: when the "
    "question needs a computation (a total, an average, a count, a ratio), compute "
    "it with code over those files instead of by hand, state the result, and cite "
    "the rows it rests on. Save a chart or table you make as a file."
)
# Words that ask for a computation over rows rather than a look-up of one.
_COMPUTATION = re.compile(
    r"\b(averages?|mean|median|totals?|sum|sums|summed|count|counts|how many|"
    r"max|maximum|min|minimum|highest|lowest|largest|smallest|per|ratio|ratios|"
    r"growth|grew|percentage|percent|share|distribution|chart|plot|graph|"
    r"histogram|trend|correlat\w*|standard deviation|variance)\b",
    re.IGNORECASE,
)


def needs_computation(question: str) -> bool:
    """Whether the question asks for an aggregate, a ratio or a chart."""
    return bool(_COMPUTATION.search(question))


@dataclass
class Plan:
    """The tool and the datasets for one answer, and what they left remotely."""

    documents: list[Document]
    # Files API ids of the datasets uploaded for this answer, in order.
    uploads: list[str] = field(default_factory=list)

    @property
    def tool(self) -> dict[str, Any]:
        return {"type": TOOL_TYPE, "name": TOOL_NAME}


def plan_for(workspace: Workspace, question: str, hits: list[Hit]) -> Plan | None:
    """The plan when the workspace allows it, the question computes and a table
    document was retrieved; else None."""
    if not workspace.code_execution_enabled or not files_api.online():
        return None
    if not needs_computation(question):
        return None
    order: list[str] = []
    for hit in hits:
        if hit.document_id not in order:
            order.append(hit.document_id)
    found = {
        str(d.id): d
        for d in Document.objects.filter(
            id__in=order, workspace=workspace, mime_type__in=TABULAR
        ).exclude(original="")
    }
    documents = [found[i] for i in order if i in found][:MAX_DATASETS]
    return Plan(documents=documents) if documents else None


def upload_datasets(plan: Plan) -> bool:
    """Upload each dataset's original file; False (nothing left) if one fails."""
    for document in plan.documents:
        try:
            with document.original.open("rb") as handle:
                data = bytes(handle.read())
            uploaded = files_api.upload_dataset(
                original_name=document.original_name,
                data=data,
                mime_type=document.mime_type,
            )
        except Exception:
            log.exception("dataset upload for %s failed; no code execution", document)
            release_uploads(plan)
            return False
        plan.uploads.append(uploaded.id)
    return True


def add_to_request(request: dict[str, Any], plan: Plan) -> None:
    """Put the tool and the datasets' container_upload blocks into a request.

    The blocks go just before the question, after the cached document blocks,
    so the documents prefix stays the same from one question to the next.
    """
    request["tools"] = [*request.get("tools", []), plan.tool]
    request["system"] = str(request.get("system", "")) + SYSTEM_ADDITION
    turn = request["messages"][-1]
    uploads = [{"type": "container_upload", "file_id": i} for i in plan.uploads]
    turn["content"] = [*turn["content"][:-1], *uploads, turn["content"][-1]]


def release_uploads(plan: Plan) -> None:
    """Delete the datasets uploaded for this answer (tombstoned if that fails)."""
    delete_remote(plan.uploads, reason="code execution dataset")
    plan.uploads = []


def delete_remote(file_ids: list[str], *, reason: str) -> None:
    """Delete remote files now; one the API will not delete is owed a delete."""
    for file_id in file_ids:
        try:
            files_api.delete(file_id, retries=1)
        except Exception:
            log.warning("delete of %s failed; tombstoned", file_id, exc_info=True)
            remote_file_forget(file_id=file_id, reason=reason)


# Reading the response ------------------------------------------------------------


def parse_runs(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each code execution of a response: the code, its output, its files."""
    uses: dict[str, dict[str, Any]] = {}
    runs: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type")
        if kind == "server_tool_use" and block.get("name") in TOOL_NAMES:
            uses[str(block.get("id"))] = block
        elif kind in RESULT_TYPES:
            use = uses.get(str(block.get("tool_use_id")), {})
            runs.append(_run(str(use.get("name") or RESULT_TYPES[kind]), use, block))
    return runs


def _run(tool: str, use: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    given = use.get("input") or {}
    result = block.get("content") or {}
    kind = str(result.get("type") or "")
    if tool == "text_editor_code_execution":
        command = str(given.get("command") or "")
        code = str(given.get("file_text") or given.get("new_str") or "")
        label = f"{command} {given.get('path') or ''}".strip()
    else:
        code = str(given.get("code") or given.get("command") or "")
        label = ""
    return {
        "tool": tool,
        "label": label,
        "code": code[:MAX_STORED_CHARS],
        "stdout": str(result.get("stdout") or "")[:MAX_STORED_CHARS],
        "stderr": str(result.get("stderr") or "")[:MAX_STORED_CHARS],
        "return_code": result.get("return_code"),
        "error_code": str(result.get("error_code") or "") if "error" in kind else "",
        "encrypted": kind == "encrypted_code_execution_result",
        "file_ids": [
            str(item["file_id"])
            for item in result.get("content") or []
            if isinstance(item, dict) and item.get("file_id")
        ],
    }


def run_json(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the answer stream's `code_run` event shows it (the API's CodeRunOut)."""
    keys = ("tool", "label", "code", "stdout", "stderr", "return_code", "error_code")
    return {key: run.get(key) for key in keys} | {"file_ids": list(run["file_ids"])}


def collect_outputs(runs: list[dict[str, Any]]) -> list[files_api.Downloaded]:
    """Download the files the runs made; one that cannot be is noted on its run."""
    downloaded: list[files_api.Downloaded] = []
    for run in runs:
        for file_id in run["file_ids"]:
            if len(downloaded) >= MAX_OUTPUT_FILES:
                run.setdefault("download_errors", {})[file_id] = "too many files"
                continue
            try:
                downloaded.append(
                    files_api.download(file_id, max_bytes=MAX_ARTIFACT_BYTES)
                )
            except Exception as exc:
                log.warning("output %s not downloaded: %s", file_id, exc)
                run.setdefault("download_errors", {})[file_id] = str(exc)[:300]
    return downloaded


def store_outputs(answer: Answer, outputs: list[files_api.Downloaded]) -> None:
    """Keep each downloaded file with its answer, in the media storage."""
    for output in outputs:
        artifact = AnswerArtifact(
            answer=answer,
            filename=output.filename[:255] or "output",
            mime_type=output.mime_type[:100],
            size=len(output.data),
            file_id=output.id,
        )
        artifact.content.save(output.filename, ContentFile(output.data), save=True)


def release_outputs(runs: list[dict[str, Any]]) -> None:
    """Delete every file the runs made remotely, once the kept ones are stored.

    Those not kept (too large, too many) go too: nothing else would free them.
    """
    file_ids = [file_id for run in runs for file_id in run["file_ids"]]
    delete_remote(file_ids, reason="code execution output")
