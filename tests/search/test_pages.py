"""The ask page and the answer page with citation markers."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from tests.conftest import HANDBOOK, ingested


def test_asking_shows_an_answer_with_linked_markers(web: Client, user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    response = web.post("/ask/", {"question": "How many vacation days?"}, follow=True)
    html = response.content.decode()
    assert "How many vacation days?" in html
    assert "offline extractive answerer" in html
    markers = re.findall(r'<a class="cite" href="([^"]+)" data-ordinal="(\d+)"', html)
    assert markers
    href, ordinal = markers[0]
    assert href.startswith(f"/documents/{document.id}/?start=")
    assert f'id="quote-{ordinal}"' in html
    target = web.get(href.replace("&amp;", "&").split("#")[0]).content.decode()
    assert '<mark id="cited">' in target
    assert "25 days of paid vacation" in target.split('<mark id="cited">')[1]


def test_an_empty_question_is_refused(web: Client) -> None:
    html = web.post("/ask/", {"question": " "}, follow=True).content.decode()
    assert "Type a question first." in html


def test_recent_questions_are_listed(web: Client, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    web.post("/ask/", {"question": "expense report deadline"})
    assert "expense report deadline" in web.get("/ask/").content.decode()
