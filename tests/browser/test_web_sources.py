"""Adding a web page by URL in a real browser, fetched by a real worker."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from documents.services import workspace_default_for_user
from tests.browser import log_in
from tests.factories import make_user
from tests.webserver import LocalWeb

PAGE = (
    "<title>Onboarding guide</title><nav>Menu</nav>"
    "<main><h1>Onboarding</h1><p>New hires get a laptop on day one.</p></main>"
)


def test_paste_a_url_and_watch_it_become_a_document(
    local_web: LocalWeb, page: Any, worker: Any
) -> None:
    user = make_user()
    # The loopback server stands in for an intranet host the workspace allows.
    workspace = workspace_default_for_user(user=user)
    workspace.intranet_sources = ["127.0.0.1"]
    workspace.save()
    url = local_web.page("/onboarding", PAGE)

    page.goto("/documents/")
    log_in(page, user.username)

    page.fill("textarea[name=urls]", url + "\nftp://example.com/file")
    page.click("form.add-urls button[type=submit]")
    expect(page.locator(".messages")).to_contain_text(f"{url} is queued")
    expect(page.locator(".messages")).to_contain_text("url_not_allowed")
    expect(page.locator('[data-role="status"]').first).to_have_text(
        "ready", timeout=60_000
    )
    expect(page.locator('[data-role="title"]').first).to_have_text("Onboarding guide")
    page.click("text=Onboarding guide")
    expect(page.locator(".source-url")).to_contain_text(url)
    expect(page.locator("#text")).to_contain_text("New hires get a laptop on day one.")
    expect(page.locator("#text")).not_to_contain_text("Menu")
