"""Answer feedback from the answer page and the API."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from search import answering
from search.models import Feedback
from tests.conftest import HANDBOOK, ingested


def test_feedback_from_the_page_is_stored_and_replaced(user: Any, web: Client) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    answer = answering.answer_question(
        workspace=document.workspace, user=user, text="How many vacation days?"
    )
    url = f"/ask/answers/{answer.code}/feedback"
    web.post(url, {"helpful": "no", "comment": "  Missing the carry-over rule. "})
    feedback = Feedback.objects.get(answer=answer, user=user)
    assert feedback.helpful is False
    assert feedback.comment == "Missing the carry-over rule."
    web.post(url, {"helpful": "yes"})
    assert Feedback.objects.get(answer=answer, user=user).helpful is True
    assert Feedback.objects.count() == 1
    page = web.get(f"/ask/answers/{answer.code}/").content.decode()
    assert 'value="yes" checked' in page
    # Neither yes nor no is refused.
    web.post(url, {"helpful": "maybe"})
    assert Feedback.objects.get().helpful is True


def test_feedback_through_the_api(user: Any, api: Client) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    answer = api.post(
        "/api/v1/ask",
        json.dumps({"question": "How many vacation days?"}),
        content_type="application/json",
    ).json()
    url = f"/api/v1/answers/{answer['id']}/feedback"
    ok = api.post(
        url,
        json.dumps({"helpful": True, "comment": "Spot on"}),
        content_type="application/json",
    )
    assert ok.status_code == 200
    assert ok.json() == {
        "answer_id": answer["id"],
        "helpful": True,
        "comment": "Spot on",
    }
    for body in ({"helpful": "yes"}, {}, {"helpful": True, "comment": "x" * 2001}):
        bad = api.post(url, json.dumps(body), content_type="application/json")
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid_request"
    assert api.get(url).status_code == 405
    assert Feedback.objects.get().comment == "Spot on"
