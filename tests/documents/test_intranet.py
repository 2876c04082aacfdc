"""Intranet sources on purpose: a workspace's allowed private hosts and networks."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
from django.test import Client

from documents.ingestion.pipeline import document_ingest
from documents.models import Document, IntranetSourceChange
from documents.remote import web as web_sources
from documents.remote.intranet import Allowlist, normalise_entry
from documents.remote.web import WebError, fetch
from documents.services import workspace_default_for_user
from tests.factories import make_user
from tests.webserver import LocalWeb


def _code(call: Any) -> str:
    with pytest.raises(WebError) as caught:
        call()
    return caught.value.code


# Entries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "stored"),
    [
        (" Wiki.Internal. ", "wiki.internal"),
        ("intranet.corp.example", "intranet.corp.example"),
        ("10.20.0.0/16", "10.20.0.0/16"),
        ("10.20.3.4/16", "10.20.0.0/16"),
        ("192.168.1.10", "192.168.1.10"),
        ("192.168.1.10/32", "192.168.1.10"),
        ("fd12:3456::/48", "fd12:3456::/48"),
        ("127.0.0.1", "127.0.0.1"),
        ("169.254.0.0/16", "169.254.0.0/16"),
    ],
)
def test_entries_are_normalised(entry: str, stored: str) -> None:
    assert normalise_entry(entry) == stored


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("169.254.169.254", "metadata"),
        ("169.254.169.254/32", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("metadata.google.internal", "metadata"),
        ("http://wiki.internal", "scheme"),
        ("wiki.internal/path", "scheme"),
        ("0.0.0.0/0", "too wide"),
        ("10.0.0.0/7", "too wide"),
        ("::/0", "too wide"),
        ("8.8.8.0/24", "public"),
        ("wiki internal", "not a host"),
        ("wíki.internal", "punycode"),
        ("10.0.0.300", "not a host"),
    ],
)
def test_bad_entries_are_refused_with_a_reason(entry: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalise_entry(entry)


# Matching -------------------------------------------------------------------


def _allows(entries: list[str], host: str, address: str) -> bool:
    return Allowlist.parse(entries).allows(host, ipaddress.ip_address(address))


def test_a_host_entry_allows_that_exact_host_only() -> None:
    assert _allows(["wiki.internal"], "wiki.internal", "10.1.2.3")
    assert _allows(["wiki.internal"], "WIKI.internal.", "10.1.2.3")
    assert not _allows(["wiki.internal"], "evil.wiki.internal", "10.1.2.3")
    assert not _allows(["wiki.internal"], "wiki.internal.evil.test", "10.1.2.3")
    assert not _allows(["wiki.internal"], "git.internal", "10.1.2.3")


def test_a_network_entry_allows_its_addresses_only() -> None:
    entries = ["10.20.0.0/16", "fd12:3456::/48"]
    assert _allows(entries, "a.internal", "10.20.99.1")
    assert _allows(entries, "a.internal", "::ffff:10.20.99.1")
    assert _allows(entries, "a.internal", "fd12:3456:0:1::5")
    assert not _allows(entries, "a.internal", "10.21.0.1")
    assert not _allows(entries, "a.internal", "192.168.0.1")


@pytest.mark.parametrize(
    ("entries", "address"),
    [
        (["169.254.0.0/16"], "169.254.169.254"),
        (["169.254.0.0/16"], "169.254.170.2"),
        (["169.254.0.0/16"], "::ffff:169.254.169.254"),
        (["fd00::/8"], "fd00:ec2::254"),
        (["100.64.0.0/10"], "100.100.100.200"),
        (["192.0.0.0/24"], "192.0.0.192"),
        (["metadata.internal"], "169.254.169.254"),
    ],
)
def test_metadata_addresses_stay_refused_inside_an_allowed_network(
    entries: list[str], address: str
) -> None:
    assert not _allows(entries, "metadata.internal", address)


def test_the_rest_of_an_allowed_link_local_network_is_allowed() -> None:
    assert _allows(["169.254.0.0/16"], "printer.local", "169.254.10.20")


# Fetching from loopback servers ------------------------------------------------


def test_an_allowed_address_is_fetched_and_others_stay_refused(
    local_web: LocalWeb,
) -> None:
    url = local_web.page("/wiki", "<title>Wiki</title><p>Onboarding steps.</p>")
    assert _code(lambda: fetch(url)) == "url_not_allowed"
    assert _code(lambda: fetch(url, intranet=Allowlist.parse(["10.0.0.0/8"]))) == (
        "url_not_allowed"
    )
    assert local_web.hosts == []
    fetched = fetch(url, intranet=Allowlist.parse(["127.0.0.1"]))
    assert fetched.title == "Wiki"


def test_an_allowed_host_name_is_fetched_at_the_address_it_resolves_to(
    local_web: LocalWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_sources, "resolve", lambda host, port: ["127.0.0.1"])
    local_web.page("/start", "<title>Start</title><p>Welcome.</p>")
    url = f"http://wiki.internal:{local_web.port}/start"
    assert _code(lambda: fetch(url)) == "url_not_allowed"
    fetched = fetch(url, intranet=Allowlist.parse(["wiki.internal"]))
    assert fetched.title == "Start"
    assert local_web.hosts == [f"wiki.internal:{local_web.port}"]


def test_a_redirect_from_an_allowed_host_to_another_internal_one_is_refused(
    local_web: LocalWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = {"wiki.internal": ["127.0.0.1"], "vault.internal": ["127.0.0.1"]}
    monkeypatch.setattr(web_sources, "resolve", lambda host, port: addresses[host])
    local_web.redirect("/go", f"http://vault.internal:{local_web.port}/secrets")
    local_web.page("/secrets", "<p>keys</p>")
    url = f"http://wiki.internal:{local_web.port}/go"
    code = _code(lambda: fetch(url, intranet=Allowlist.parse(["wiki.internal"])))
    assert code == "url_not_allowed"
    assert local_web.hosts == [f"wiki.internal:{local_web.port}"]


def test_metadata_is_refused_even_with_every_exemption(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.WEB_ALLOW_PRIVATE_ADDRESSES = True
    monkeypatch.setattr(web_sources, "resolve", lambda host, port: ["169.254.169.254"])
    everything = Allowlist.parse(["169.254.0.0/16", "sneaky.internal"])
    for url in ("http://169.254.169.254/latest/", "http://sneaky.internal/"):
        assert _code(lambda url=url: fetch(url, intranet=everything)) == (
            "url_not_allowed"
        )


# Adding URLs, the settings page and the audit ----------------------------------


def test_an_intranet_url_is_refused_at_once_until_an_admin_allows_it(
    api: Client, user: Any, local_web: LocalWeb
) -> None:
    url = local_web.page("/wiki", "<title>Wiki</title><p>Onboarding steps.</p>")
    body = json.dumps({"url": url})
    refused = api.post("/api/v1/documents", body, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "url_not_allowed"
    workspace = workspace_default_for_user(user=user)
    workspace.intranet_sources = ["127.0.0.1"]
    workspace.save()
    added = api.post("/api/v1/documents", body, content_type="application/json")
    assert added.status_code == 201, added.content
    document_ingest(document_id=added.json()["id"])
    document = Document.objects.get(id=added.json()["id"])
    assert document.status == "ready", document.error
    assert "Onboarding steps." in document.text


def test_the_metadata_address_is_refused_at_once_even_when_its_network_is_allowed(
    api: Client, user: Any
) -> None:
    workspace = workspace_default_for_user(user=user)
    workspace.intranet_sources = ["169.254.0.0/16"]
    workspace.save()
    response = api.post(
        "/api/v1/documents",
        json.dumps({"url": "http://169.254.169.254/latest/meta-data/iam/"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "url_not_allowed"
    assert "metadata" in response.json()["error"]["message"]
    assert not Document.objects.exists()


def _settings_post(web: Client, intranet: str) -> Any:
    return web.post(
        "/documents/settings",
        {
            "web_fetch_max_uses": 5,
            "web_fetch_max_content_tokens": 50000,
            "intranet_sources": intranet,
        },
    )


def test_a_workspace_admin_allows_hosts_and_every_change_is_audited(
    web: Client, user: Any
) -> None:
    workspace = workspace_default_for_user(user=user)
    page = web.get("/documents/settings").content.decode()
    assert "Intranet hosts and networks" in page
    assert _settings_post(web, "wiki.internal\n10.20.0.0/16").status_code == 302
    workspace.refresh_from_db()
    assert workspace.intranet_sources == ["wiki.internal", "10.20.0.0/16"]
    assert _settings_post(web, "10.20.0.0/16\ngit.internal").status_code == 302
    changes = list(
        IntranetSourceChange.objects.order_by("id").values_list(
            "username", "action", "entry", "via"
        )
    )
    name = user.username
    assert changes == [
        (name, "allowed", "wiki.internal", "web settings"),
        (name, "allowed", "10.20.0.0/16", "web settings"),
        (name, "removed", "wiki.internal", "web settings"),
        (name, "allowed", "git.internal", "web settings"),
    ]
    refused = _settings_post(web, "169.254.169.254\nwiki.internal")
    assert refused.status_code == 200
    assert "metadata" in refused.content.decode()
    workspace.refresh_from_db()
    assert workspace.intranet_sources == ["10.20.0.0/16", "git.internal"]


def test_editors_neither_see_nor_reach_web_settings(web: Client, user: Any) -> None:
    workspace = workspace_default_for_user(user=user)
    assert 'href="/documents/settings"' in web.get("/documents/").content.decode()
    membership = user.memberships.get(workspace=workspace)
    membership.role = "editor"
    membership.save()
    assert 'href="/documents/settings"' not in web.get("/documents/").content.decode()
    assert _settings_post(web, "wiki.internal").status_code == 403
    assert not IntranetSourceChange.objects.exists()


def test_changes_made_in_the_django_admin_are_audited_too(user: Any) -> None:
    staff = Client()
    admin_user = make_user(is_staff=True, is_superuser=True)
    staff.force_login(admin_user)
    workspace = workspace_default_for_user(user=user)
    response = staff.post(
        f"/admin/documents/workspace/{workspace.id}/change/",
        {
            "name": workspace.name,
            "web_fetch_max_uses": 5,
            "web_fetch_max_content_tokens": 50000,
            "intranet_sources": "wiki.internal",
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    change = IntranetSourceChange.objects.get()
    assert (change.username, change.action, change.entry, change.via) == (
        admin_user.username,
        "allowed",
        "wiki.internal",
        "admin",
    )
    audit = staff.get("/admin/documents/intranetsourcechange/").content.decode()
    assert "wiki.internal" in audit
    assert staff.get("/admin/documents/intranetsourcechange/add/").status_code == 403
