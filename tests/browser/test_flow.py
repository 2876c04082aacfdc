"""The slice in a real browser: log in, upload, wait, ask, open a citation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser import log_in
from tests.conftest import HANDBOOK
from tests.factories import make_user


def test_upload_ask_and_open_a_citation(
    page: Any, worker: Any, settings: Any, tmp_path: Path
) -> None:
    user = make_user()
    handbook = tmp_path / "handbook.md"
    handbook.write_text(HANDBOOK, encoding="utf-8")

    page.goto("/documents/")
    log_in(page, user.username)
    expect(page.locator("h1")).to_contain_text("workspace")
    expect(page.locator(".badge.warn").first).to_contain_text("Offline")

    page.set_input_files("input[type=file]", str(handbook))
    page.click("form.upload button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("handbook.md is queued")
    # The list updates itself while the real worker ingests: no reload here.
    expect(page.locator('[data-role="status"]').first).to_have_text(
        "ready", timeout=60_000
    )

    page.click("text=Ask")
    page.fill("textarea[name=question]", "How many days of paid vacation?")
    page.click("form.ask button[type=submit]")
    marker = page.locator("a.cite").first
    expect(marker).to_be_visible()
    marker.hover()
    expect(page.locator("#popover")).to_be_visible()
    expect(page.locator("#popover blockquote")).to_contain_text("25 days")

    # The answer streamed in, then its stored page opened.
    expect(page).to_have_url(re.compile(r"/ask/answers/[0-9a-f-]+/"))
    marker.click()
    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    expect(panel.locator("mark.cited")).to_have_text(
        "Employees get 25 days of paid vacation per year."
    )
    # The passage sits in its surrounding text.
    expect(panel.locator(".passage")).to_contain_text("Unused vacation days")

    panel.locator("text=Open in the document").click()
    expect(page).to_have_url(re.compile(r"/documents/[0-9a-f-]+/\?start=\d+&end=\d+"))
    expect(page.locator("mark#cited")).to_contain_text(
        "Employees get 25 days of paid vacation per year."
    )
