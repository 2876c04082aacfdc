"""Code execution over CSV and Excel documents, through the fake Messages API."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from django.test import Client

from documents.ingestion.extraction import XLSX
from documents.models import RemoteFileTombstone
from documents.remote import files_api
from documents.services import workspace_default_for_user
from search import code_execution
from search.models import Answer, AnswerArtifact
from search.prompting import SYSTEM_PROMPT
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_user
from tests.fakes.anthropic import FakeAnthropic
from tests.sheets import OFFICES, xlsx_bytes

OFFICES_CSV = (
    "office,country,headcount\n"
    "Berlin,Germany,240\n"
    "Krakow,Poland,85\n"
    "Lisbon,Portugal,42\n"
)
AVERAGE = "What is the average headcount per office in offices.csv?"


def _ask(api: Client, question: str, **extra: Any) -> Any:
    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": question}),
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 200, response.content
    return response


def _messages(fake: FakeAnthropic) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/messages"]


def _uploads(fake: FakeAnthropic) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/files"]


@pytest.mark.parametrize(
    ("question", "computes"),
    [
        ("What is the average headcount per country?", True),
        ("How many offices opened after 2015?", True),
        ("Total spend in Q1?", True),
        ("Which office had the highest growth?", True),
        ("Where is the Krakow office?", False),
        ("Who is the office manager in Lisbon?", False),
    ],
)
def test_a_question_needs_computation_when_it_asks_for_an_aggregate(
    question: str, computes: bool
) -> None:
    assert code_execution.needs_computation(question) is computes


def test_the_request_carries_the_tool_and_the_csv_as_a_container_upload(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    document = ingested(user, "offices.csv", OFFICES_CSV.encode())
    _ask(api, AVERAGE)
    (request,) = _messages(fake_anthropic)
    # The code execution tool is generally available: no beta header.
    assert "anthropic-beta" not in request.headers
    body = request.body
    assert body["tools"] == [
        {"type": "code_execution_20260521", "name": "code_execution"}
    ]
    assert body["system"] == SYSTEM_PROMPT + code_execution.SYSTEM_ADDITION
    (message,) = body["messages"]
    dataset = _uploads(fake_anthropic)[-1]
    (upload,) = dataset.body["files"]
    # The original file, name and type kept, for one hour at most.
    assert (upload["filename"], upload["content_type"]) == ("offices.csv", "text/csv")
    assert upload["size"] == len(OFFICES_CSV.encode())
    assert dataset.body["fields"] == {"expires_in_seconds": "3600"}
    document_block, container_block, question = message["content"]
    assert document_block["source"] == {"type": "file", "file_id": document.file_id}
    dataset_id = container_block["file_id"]
    assert container_block == {"type": "container_upload", "file_id": dataset_id}
    assert dataset_id != document.file_id
    assert question == {"type": "text", "text": AVERAGE}
    # The dataset was for this answer only: deleted once it was given.
    assert dataset_id not in fake_anthropic.files
    assert document.file_id in fake_anthropic.files


@pytest.mark.parametrize("stream", [False, True])
def test_the_run_and_its_files_are_stored_shown_and_deleted_remotely(
    online: Any,
    api: Client,
    web: Client,
    user: Any,
    fake_anthropic: FakeAnthropic,
    stream: bool,
) -> None:
    ingested(user, "offices.csv", OFFICES_CSV.encode())
    headers = {"HTTP_ACCEPT": "text/event-stream"} if stream else {}
    response = _ask(api, AVERAGE, **headers)
    if stream:
        body = b"".join(response.streaming_content).decode()
        events = [
            (frame.split("\n")[0], frame.split("data: ", 1)[1])
            for frame in body.strip().split("\n\n")
        ]
        names = [name for name, _ in events]
        assert names[-3:] == ["event: code_run", "event: code_run", "event: done"]
        streamed = json.loads(events[-2][1])
        assert streamed["tool"] == "bash_code_execution"
        assert streamed["stdout"].startswith("offices.csv: 3 rows")
    answer = Answer.objects.get()
    assert "headcount: total 367, average 122.33." in answer.text
    if not stream:
        shown = response.json()
        assert [run["tool"] for run in shown["code_runs"]] == [
            "text_editor_code_execution",
            "bash_code_execution",
        ]
        assert sorted(a["filename"] for a in shown["artifacts"]) == [
            "chart.png",
            "summary.csv",
        ]
    editor, bash = answer.code_runs
    assert editor["tool"] == "text_editor_code_execution"
    assert editor["label"] == "create /tmp/cairn_analysis.py"
    assert "read_csv" in editor["code"]
    assert bash["tool"] == "bash_code_execution"
    assert bash["code"] == "python /tmp/cairn_analysis.py"
    assert bash["return_code"] == 0
    assert bash["stdout"].startswith("offices.csv: 3 rows; columns: office")
    artifacts = {a.filename: a for a in AnswerArtifact.objects.filter(answer=answer)}
    assert set(artifacts) == {"summary.csv", "chart.png"}
    chart = artifacts["chart.png"]
    assert chart.mime_type == "image/png" and chart.is_image
    assert chart.content.read().startswith(b"\x89PNG")
    summary = artifacts["summary.csv"]
    assert summary.content.open("rb").read().decode().splitlines()[1] == (
        "offices.csv,headcount,367,122.33"
    )
    assert {a.file_id for a in artifacts.values()} == set(bash["file_ids"])
    # Downloaded, then deleted remotely: only the document's own file is left.
    remote = set(fake_anthropic.files)
    assert not remote & set(bash["file_ids"])
    assert len(remote) == 1
    assert not RemoteFileTombstone.objects.exists()

    page = web.get(f"/ask/answers/{answer.code}/")
    html = page.content.decode()
    assert "python /tmp/cairn_analysis.py" in html
    assert "offices.csv: 3 rows" in html
    image_url = f"/ask/answers/{answer.code}/files/{chart.code}"
    assert f'<img class="artifact" src="{image_url}"' in html
    assert f'href="/ask/answers/{answer.code}/files/{summary.code}"' in html
    served: Any = web.get(image_url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content).startswith(b"\x89PNG")
    download = web.get(f"/ask/answers/{answer.code}/files/{summary.code}")
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment")


def test_an_xlsx_goes_up_as_the_workbook_itself(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "offices.xlsx", xlsx_bytes(OFFICES))
    _ask(api, "What is the total headcount of the offices?")
    (upload,) = _uploads(fake_anthropic)[-1].body["files"]
    assert upload["filename"] == "offices.xlsx"
    assert upload["content_type"] == XLSX
    answer = Answer.objects.get()
    assert "headcount: total 257, average 85.67." in answer.code_runs[-1]["stdout"]


def test_no_tool_for_a_look_up_a_prose_document_or_a_workspace_without_it(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "offices.csv", OFFICES_CSV.encode())
    ingested(user, "handbook.md", HANDBOOK.encode())
    _ask(api, "Where is the Krakow office?")
    _ask(api, "What must be attached to expense reports?")
    workspace = workspace_default_for_user(user=user)
    workspace.code_execution_enabled = False
    workspace.save()
    _ask(api, AVERAGE)
    requests = _messages(fake_anthropic)
    assert len(requests) == 3
    for request in requests:
        assert "tools" not in request.body
        blocks = request.body["messages"][-1]["content"]
        assert all(b["type"] != "container_upload" for b in blocks)
    assert not AnswerArtifact.objects.exists()


def test_another_workspaces_member_cannot_fetch_an_artifact(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "offices.csv", OFFICES_CSV.encode())
    _ask(api, AVERAGE)
    answer = Answer.objects.get()
    artifact = AnswerArtifact.objects.filter(answer=answer).first()
    assert artifact is not None
    stranger = Client()
    stranger.force_login(make_user())
    url = f"/ask/answers/{answer.code}/files/{artifact.code}"
    assert stranger.get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


# The fake, through the real SDK --------------------------------------------------


def _client(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0)


def _request(file_id: str, tools: list[dict[str, Any]] | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 1024,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "container_upload", "file_id": file_id},
                    {"type": "text", "text": "Total headcount?"},
                ],
            }
        ],
    }
    if tools is not None:
        request["tools"] = tools
    return request


def test_the_fake_refuses_what_the_api_refuses(fake_anthropic: FakeAnthropic) -> None:
    client = _client(fake_anthropic)
    uploaded = client.files.upload(file=("o.csv", OFFICES_CSV.encode(), "text/csv"))
    with pytest.raises(anthropic.BadRequestError, match="code execution tool"):
        client.messages.create(**_request(uploaded.id, None))
    for tool, error in (
        ({"type": "code_execution_20990101", "name": "code_execution"}, "tag"),
        ({"type": "code_execution_20260521", "name": "python"}, "name"),
        ({"type": "code_execution_20260521", "name": "code_execution", "x": 1}, "x"),
    ):
        with pytest.raises(anthropic.BadRequestError, match=error):
            client.messages.create(**_request(uploaded.id, [tool]))
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(
            **_request(
                "file_011CNotThere",
                [{"type": "code_execution_20260521", "name": "code_execution"}],
            )
        )
    # An uploaded file is never downloadable: the SDK's typed refusal.
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.files.download(uploaded.id)
    assert getattr(refused.value, "error_code", None) == "file_not_downloadable"


@pytest.mark.parametrize(
    ("version", "result_type"),
    [
        ("code_execution_20250522", "code_execution_tool_result"),
        ("code_execution_20260521", "bash_code_execution_tool_result"),
    ],
)
def test_the_fake_answers_with_the_sdk_shapes_and_downloadable_outputs(
    fake_anthropic: FakeAnthropic, version: str, result_type: str
) -> None:
    client = _client(fake_anthropic)
    uploaded = client.files.upload(file=("o.csv", OFFICES_CSV.encode(), "text/csv"))
    message = client.messages.create(
        **_request(uploaded.id, [{"type": version, "name": "code_execution"}])
    )
    # The SDK parsed every block into its own type.
    kinds = [type(block).__name__ for block in message.content]
    assert "ServerToolUseBlock" in kinds
    results = [b for b in message.content if b.type == result_type]
    (result,) = results
    assert result.content.return_code == 0
    outputs = [o.file_id for o in result.content.content]
    assert len(outputs) == 2
    assert message.container is not None
    for file_id in outputs:
        meta = client.files.retrieve_metadata(file_id)
        assert meta.downloadable is True
        assert client.files.download(file_id).read()
    assert client.files.retrieve_metadata(uploaded.id).downloadable is False


def test_a_remote_delete_that_fails_is_owed_by_a_tombstone(
    online: Any,
    api: Client,
    user: Any,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingested(user, "offices.csv", OFFICES_CSV.encode())

    def refuse(file_id: str, *, retries: int | None = None) -> None:
        raise anthropic.APIConnectionError(request=None)  # type: ignore[arg-type]

    monkeypatch.setattr(files_api, "delete", refuse)
    _ask(api, AVERAGE)
    answer = Answer.objects.get()
    # The answer and its files are kept all the same.
    assert answer.artifacts.count() == 2
    owed = set(RemoteFileTombstone.objects.values_list("file_id", flat=True))
    outputs = {a.file_id for a in answer.artifacts.all()}
    assert outputs < owed
    (dataset,) = owed - outputs
    assert fake_anthropic.files[dataset].filename == "offices.csv"


def test_the_settings_page_turns_code_execution_off(web: Client, user: Any) -> None:
    workspace = workspace_default_for_user(user=user)
    assert workspace.code_execution_enabled is True
    page = web.get("/documents/settings").content.decode()
    assert 'name="code_execution_enabled"' in page
    form = {
        "web_fetch_max_uses": "5",
        "web_fetch_max_content_tokens": "50000",
        "web_fetch_use_cache": "on",
    }
    web.post("/documents/settings", form)
    workspace.refresh_from_db()
    assert workspace.code_execution_enabled is False
    web.post("/documents/settings", form | {"code_execution_enabled": "on"})
    workspace.refresh_from_db()
    assert workspace.code_execution_enabled is True


def test_a_file_too_large_to_keep_is_named_and_still_deleted_remotely(
    online: Any,
    api: Client,
    web: Client,
    user: Any,
    fake_anthropic: FakeAnthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = ingested(user, "offices.csv", OFFICES_CSV.encode())
    monkeypatch.setattr(code_execution, "MAX_ARTIFACT_BYTES", 10)
    _ask(api, AVERAGE)
    answer = Answer.objects.get()
    assert not answer.artifacts.exists()
    bash = answer.code_runs[-1]
    assert set(bash["download_errors"]) == set(bash["file_ids"])
    assert all("at most 10" in reason for reason in bash["download_errors"].values())
    assert set(fake_anthropic.files) == {document.file_id}
    html = web.get(f"/ask/answers/{answer.code}/").content.decode()
    assert html.count('data-role="download-error"') == 2
