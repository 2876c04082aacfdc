"""The Content-Security-Policy in a real browser: the main pages, none refused."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from documents.models import Document
from tests.browser import log_in
from tests.conftest import HANDBOOK, ingested
from tests.factories import make_user


def _watch(page: Any) -> list[str]:
    """Console errors and page errors, CSP violations among them."""
    problems: list[str] = []

    def on_console(message: Any) -> None:
        # A missing resource is reported by the response hook, with its URL.
        if (
            message.type in ("error", "warning")
            and "Failed to load" not in message.text
        ):
            problems.append(message.text)

    def on_response(response: Any) -> None:
        # Browsers ask for /favicon.ico on their own; Cairn has none.
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_main_pages_work_under_the_policy_with_no_violation(page: Any) -> None:
    user = make_user(is_staff=True, is_superuser=True)
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    problems = _watch(page)

    page.goto("/documents/")
    log_in(page, user.username)
    expect(page.locator('[data-role="status"]').first).to_have_text("ready")

    page.click("text=Ask")
    page.fill("textarea[name=question]", "How many days of paid vacation?")
    page.click("form.ask button[type=submit]")
    expect(page.locator("a.cite").first).to_be_visible()
    page.locator("a.cite").first.click()
    expect(page.locator("#panel")).to_be_visible()

    pages = ("/api/v1/docs", "/admin/", "/admin/cairn/usage/", "/admin/cairn/health/")
    for path in pages:
        response = page.goto(path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]

    # Delete asks first: dismissing the dialog keeps the document.
    page.goto("/documents/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("[data-confirm] button, button[data-confirm]")
    page.wait_for_timeout(500)
    assert Document.objects.filter(id=document.id).exists()

    # The workspace switcher submits on change, without its old inline handler.
    page.goto("/workspace/members/")
    page.fill("input[name=name]", "Second")
    page.click("text=Create")
    page.goto("/documents/")
    select = page.locator("select[name=workspace]")
    current = select.input_value()
    values = [o.get_attribute("value") for o in select.locator("option").all()]
    target = next(v for v in values if v != current)
    with page.expect_navigation():
        page.select_option("select[name=workspace]", target)
    expect(page.locator("select[name=workspace]")).to_have_value(target)

    violations = [p for p in problems if "Content Security Policy" in p]
    assert violations == []
    assert problems == []
