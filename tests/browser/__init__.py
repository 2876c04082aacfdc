"""Tests in a real browser (headless Chromium through Playwright)."""

from __future__ import annotations

from typing import Any

from tests.factories import PASSWORD


def log_in(page: Any, username: str) -> None:
    """Fill the login form the page shows and send it."""
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
