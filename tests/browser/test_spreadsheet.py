"""A spreadsheet in a real browser: upload an .xlsx, ask, see its row answered."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser import log_in
from tests.factories import make_user
from tests.sheets import OFFICES, xlsx_bytes


def test_upload_a_workbook_and_ask_about_a_row_of_its_second_sheet(
    page: Any, worker: Any, settings: Any, tmp_path: Path
) -> None:
    user = make_user()
    workbook = tmp_path / "offices.xlsx"
    workbook.write_bytes(xlsx_bytes(OFFICES))

    page.goto("/documents/")
    log_in(page, user.username)
    expect(page.locator("h1")).to_contain_text("workspace")

    page.set_input_files("input[type=file]", str(workbook))
    page.click("form.upload button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("offices.xlsx is queued")
    expect(page.locator('[data-role="status"]').first).to_have_text(
        "ready", timeout=60_000
    )
    expect(page.locator("table").first).to_contain_text("Excel")

    page.click("text=Ask")
    page.fill("textarea[name=question]", "How much did the Support team spend in Q1?")
    page.click("form.ask button[type=submit]")
    expect(page).to_have_url(re.compile(r"/ask/answers/[0-9a-f-]+/"))
    # The row of the Budget sheet, read with that sheet's own header.
    expect(page.locator("#answer")).to_contain_text(
        "team: Support, quarter: Q1, spend: 45000, per head: 1071.43"
    )
    sources = page.locator("ol.sources blockquote")
    expect(sources.nth(0)).to_have_text("Support,Q1,45000,1071.43")
    expect(sources.nth(1)).to_have_text("team,quarter,spend,per head")

    page.locator("ol.sources a").first.click()
    expect(page).to_have_url(re.compile(r"/documents/[0-9a-f-]+/\?start=\d+&end=\d+"))
    expect(page.locator("mark#cited")).to_have_text("Support,Q1,45000,1071.43")
