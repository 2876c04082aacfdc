"""The ask page and the answer page with citation markers."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from search.models import Answer
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_user
from tests.pdfs import make_pdf


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


def test_the_side_panel_holds_the_passage_in_its_context(
    web: Client, user: Any
) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    html = web.post(
        "/ask/", {"question": "How many days of paid vacation?"}, follow=True
    ).content.decode()
    template = html.split('<template id="passage-1">')[1].split("</template>")[0]
    cited = template.split('<mark class="cited">')[1].split("</mark>")[0]
    assert cited == "Employees get 25 days of paid vacation per year."
    # Text on both sides of the mark comes from the document around the range.
    before = template.split('<div class="passage">')[1].split("<mark")[0]
    assert before.endswith("## Vacation\n\n")
    assert document.text.index(cited) == len("# Handbook\n\n## Vacation\n\n")


def test_pdf_citations_show_the_rendered_page(web: Client, user: Any) -> None:
    document = ingested(
        user,
        "report.pdf",
        make_pdf([["Annual report."], ["The warranty lasts five years."]]),
    )
    html = web.post(
        "/ask/", {"question": "How long is the warranty?"}, follow=True
    ).content.decode()
    src = f"/documents/{document.id}/pages/2.png"
    assert f'src="{src}"' in html
    png = web.get(src)
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert web.get(f"/documents/{document.id}/pages/9.png").status_code == 404


def test_page_images_are_access_checked(web: Client, user: Any) -> None:
    document = ingested(user, "report.pdf", make_pdf([["Annual report."]]))
    other = Client()
    other.force_login(make_user())
    assert other.get(f"/documents/{document.id}/pages/1.png").status_code == 404


def test_no_answer_is_shown_as_not_in_your_documents(web: Client, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    html = web.post(
        "/ask/", {"question": "zebra quantum xylophone"}, follow=True
    ).content.decode()
    assert "Not in your documents." in html
    assert 'class="cite"' not in html


def test_the_page_streams_and_follow_ups_join_the_conversation(
    web: Client, user: Any
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    response: Any = web.post(
        "/ask/stream", {"question": "How many days of paid vacation?"}
    )
    assert response["Content-Type"] == "text/event-stream"
    frames = b"".join(response.streaming_content).decode().strip().split("\n\n")
    assert frames[0].startswith("event: start")
    assert frames[-1].startswith("event: done")
    first = Answer.objects.get()
    conversation = first.question.conversation
    assert conversation is not None
    web.post(
        "/ask/",
        {"question": "When do unused days expire?", "conversation": conversation.code},
    )
    assert conversation.questions.count() == 2
    html = web.get("/ask/").content.decode()
    # One line per conversation: its latest question, how many it holds.
    recent = html.split("Your recent questions")[1]
    assert "When do unused days expire?" in recent and "2 questions" in recent
    assert "How many days of paid vacation?" not in recent
    assert "Your conversations" not in html


def test_a_long_question_is_refused_with_the_limit_and_kept(
    web: Client, user: Any
) -> None:
    from search.api import MAX_QUESTION_CHARS

    ingested(user, "handbook.md", HANDBOOK.encode())
    page = web.get("/ask/").content.decode()
    assert "maxlength" not in page  # a paste is never cut silently
    assert f'data-max="{MAX_QUESTION_CHARS}"' in page
    question = "Why? " + "x" * MAX_QUESTION_CHARS
    response = web.post("/ask/", {"question": question})
    assert response.status_code == 200
    html = response.content.decode()
    assert f"the limit is {MAX_QUESTION_CHARS:,}" in html
    assert f">{question}</textarea>" in html
    assert not Answer.objects.exists()
    streamed = web.post("/ask/stream", {"question": question})
    assert streamed.status_code == 400
    assert streamed.json()["limit"] == MAX_QUESTION_CHARS
    assert f"{MAX_QUESTION_CHARS:,}" in streamed.json()["error"]


def test_recent_questions_are_shortened(web: Client, user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    long = "How many vacation days " + "and what else " * 100 + "?"
    web.post("/ask/", {"question": long})
    recent = web.get("/ask/").content.decode().split("Your recent questions")[1]
    assert long not in recent
    assert "How many vacation days and what else" in recent and "…" in recent
