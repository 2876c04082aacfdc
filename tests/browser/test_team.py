"""A team in a real browser: an admin invites a viewer, who asks but cannot upload."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from documents.models import Membership
from tests.browser import log_in
from tests.conftest import HANDBOOK, ingested
from tests.factories import PASSWORD, make_user


def test_admin_invites_a_viewer_who_asks_and_cannot_upload(page: Any) -> None:
    admin = make_user()
    ingested(admin, "handbook.md", HANDBOOK.encode())

    page.goto("/documents/")
    log_in(page, admin.username)
    expect(page.locator("form.upload")).to_be_visible()
    page.click("nav >> text=Members")
    page.fill("form.invite input[name=email]", "vera@example.com")
    page.select_option("form.invite select[name=role]", "viewer")
    page.click("form.invite button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Invited vera@example.com")
    link = page.locator('[data-email="vera@example.com"] [data-role="invite-link"]')
    url = link.inner_text().strip()
    page.click("form.logout button")

    page.goto(url)
    expect(page.locator("h1")).to_contain_text("Join")
    page.fill("input[name=username]", "vera")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form.signup button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("You joined")
    expect(page.locator('[data-role="current-role"]')).to_have_text("viewer")
    expect(page.locator("table.documents")).to_contain_text("handbook")
    expect(page.locator("form.upload")).to_have_count(0)
    expect(page.locator("text=Delete")).to_have_count(0)

    page.click("nav >> text=Ask")
    page.fill("textarea[name=question]", "How many days of paid vacation?")
    page.click("form.ask button[type=submit]")
    expect(page.locator("#answer")).to_contain_text("25 days")
    expect(page.locator("a.cite").first).to_be_visible()
    assert Membership.objects.get(user__username="vera").role == "viewer"
