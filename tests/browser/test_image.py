"""An image in a real browser: upload a PNG, see it read by OCR, ask, see it cited."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser import log_in
from tests.factories import make_user
from tests.images import image_file

LINES = ["Invoice 4471 from Harbour Freight", "Total due 1,250 euros by 30 June"]


def test_upload_an_image_and_ask_about_its_text(
    page: Any, worker: Any, settings: Any, tmp_path: Path
) -> None:
    user = make_user()
    picture = tmp_path / "receipt.png"
    picture.write_bytes(image_file(LINES))

    page.goto("/documents/")
    log_in(page, user.username)
    expect(page.locator("h1")).to_contain_text("workspace")

    page.set_input_files("input[type=file]", str(picture))
    page.click("form.upload button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("receipt.png is queued")
    # OCR in the extraction child takes seconds a page on a loaded machine.
    expect(page.locator('[data-role="status"]').first).to_have_text(
        "ready", timeout=120_000
    )

    page.click("text=Ask")
    page.fill("textarea[name=question]", "How much is due on invoice 4471?")
    page.click("form.ask button[type=submit]")
    expect(page).to_have_url(re.compile(r"/ask/answers/[0-9a-f-]+/"))
    expect(page.locator("#answer")).to_contain_text("1,250 euros")
    expect(page.locator("ol.sources blockquote").first).to_contain_text("1,250")

    # The cited passage opens on the image's document page, with its thumbnail
    # and the OCR badge.
    page.locator("ol.sources a").first.click()
    expect(page).to_have_url(re.compile(r"/documents/[0-9a-f-]+/\?start=\d+&end=\d+"))
    expect(page.locator("mark#cited")).to_contain_text("1,250")
    expect(page.locator('[data-role="thumbnail"]')).to_be_visible()
    expect(page.locator('[data-role="ocr-badge"]').first).to_be_visible()
    page.screenshot(path=str(tmp_path / "image-document.png"), full_page=True)
