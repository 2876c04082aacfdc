"""The documents list at 500 documents, and the question box, in a real browser."""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from documents.models import Document
from documents.services import workspace_default_for_user
from search.api import MAX_QUESTION_CHARS
from tests.browser import log_in
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_documents, make_user


def _inside(inner: Any, outer: Any) -> bool:
    a, b = inner.bounding_box(), outer.bounding_box()
    return bool(
        a
        and b
        and a["x"] >= b["x"] - 1
        and a["x"] + a["width"] <= b["x"] + b["width"] + 1
    )


def test_the_list_of_500_documents_pages_filters_and_updates_itself(
    page: Any,
) -> None:
    user = make_user()
    workspace = workspace_default_for_user(user=user)
    documents = make_documents(workspace, 500)
    newest = documents[-1]
    Document.objects.filter(id=newest.id).update(
        status="failed",
        failure_kind="url_unreachable",
        source_url="https://intranet.example.com/" + "very-long-path-segment/" * 9,
        error="x" * 1500,
    )

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/documents/")
    log_in(page, user.username)
    rows = page.locator("#documents tbody tr[data-id]")
    expect(rows).to_have_count(50)
    expect(page.locator("#count")).to_have_text("1–50 of 500 documents")
    expect(page.locator(".pager")).to_contain_text("Page 1 of 10")

    # Everything stays inside the card: buttons, long URLs, long errors.
    card = page.locator("section.card").nth(1)
    first = rows.first
    assert _inside(page.locator("#documents"), card)
    for button in first.locator("td.actions button").all():
        assert _inside(button, card)
    assert _inside(first.locator(".source"), first.locator("td.doc"))
    expect(first.locator('[data-role="error"]')).to_contain_text(
        "The page could not be fetched"
    )
    expect(first.locator('[data-role="retry"]')).to_be_visible()
    badge = first.locator('td[data-role="file"] .badge')
    expect(badge).to_have_text("offline")
    expect(badge).to_have_attribute("title", re.compile("ANTHROPIC_API_KEY"))

    # A choice in a filter applies at once; damaged files offer no Retry.
    page.select_option("select[name=status]", "failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(rows).to_have_count(50)
    expect(page.locator('#documents [data-status="ready"]')).to_have_count(0)
    expect(page.locator('#documents [data-kind="damaged"]').first).to_contain_text(
        "damaged"
    )
    expect(
        page.locator('#documents tr:has([data-kind="damaged"]) [data-role="retry"]')
    ).to_have_count(0)

    page.goto("/documents/")
    page.fill("input[name=q]", "Report 499")
    page.press("input[name=q]", "Enter")
    expect(rows).to_have_count(1)
    expect(rows.first.locator('[data-role="title"]')).to_have_text("Report 499")

    page.goto("/documents/?sort=title")
    page.click(".pager >> text=Next")
    expect(page.locator("#count")).to_have_text("51–100 of 500 documents")

    # The list follows a document's progress without a reload, row by row.
    page.goto("/documents/")
    busy = page.locator('#documents tr[data-status="processing"]').first
    busy_id = busy.get_attribute("data-id")
    Document.objects.filter(id=busy_id).update(
        status="ready", stage="ready", progress=100, updated=timezone.now()
    )
    row = page.locator(f'#documents tr[data-id="{busy_id}"]')
    expect(row.locator('[data-role="status"]')).to_have_text("ready", timeout=15_000)
    expect(rows).to_have_count(50)


def test_a_long_question_is_never_cut_and_survives_a_refusal(page: Any) -> None:
    user = make_user()
    ingested(user, "handbook.md", HANDBOOK.encode())
    page.goto("/ask/")
    log_in(page, user.username)
    box = page.locator("textarea[name=question]")
    question = "How many days of paid vacation? " + "Context. " * 500
    assert len(question) > MAX_QUESTION_CHARS
    box.fill(question)
    # Nothing is cut: the whole paste is in the box, and the limit is said.
    assert len(box.input_value()) == len(question)
    counter = page.locator("#question-count")
    expect(counter).to_contain_text(f"over the {MAX_QUESTION_CHARS:,}-character limit")
    expect(counter).to_have_class(re.compile("error"))
    page.click("form.ask button[type=submit]")
    expect(page).to_have_url(re.compile(r"/ask/$"))
    assert box.input_value() == question

    # Should the server refuse it anyway (a stale page), the text stays.
    box.evaluate("element => element.setCustomValidity('')")
    page.click("form.ask button[type=submit]")
    expect(counter).to_contain_text(f"ask one of 1 to {MAX_QUESTION_CHARS:,}")
    assert box.input_value() == question

    box.fill("How many days of paid vacation?")
    expect(counter).to_contain_text(f"/ {MAX_QUESTION_CHARS:,} characters")
    page.click("form.ask button[type=submit]")
    expect(page).to_have_url(re.compile(r"/ask/answers/[0-9a-f-]+/"))
    expect(page.locator("#answer")).to_contain_text("25 days")
