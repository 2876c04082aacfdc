"""The URL fetcher's safety checks: form, domain lists, addresses, redirects, limits."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from documents.remote import web as web_sources
from documents.remote.web import (
    WebError,
    check_domain_lists,
    check_url,
    fetch,
    is_public_address,
    normalise_domain_entry,
)
from tests.webserver import LocalWeb


def _code(call: Any) -> str:
    with pytest.raises(WebError) as caught:
        call()
    return caught.value.code


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.100.100.200",
        "192.0.0.192",
        "0.0.0.0",
        "224.0.0.251",
        "255.255.255.255",
        "240.0.0.1",
        "198.18.0.1",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "ff02::1",
        "2002:7f00:1::1",
        "64:ff9b::a00:1",
        "2001::1",
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::6810:84e5", "64:ff9b::808:808"]
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/file.txt", "url_not_allowed"),
        ("file:///etc/passwd", "url_not_allowed"),
        ("javascript:alert(1)", "url_not_allowed"),
        ("example.com/page", "invalid_input"),
        ("https://", "invalid_input"),
        ("https://example.com:99999/", "invalid_input"),
        ("https://docs.example.com@evil.test/", "invalid_input"),
        ("https://example.com/" + "a" * 231, "url_too_long"),
        ("https://exаmple.com/", "url_not_allowed"),  # Cyrillic "а"
    ],
)
def test_malformed_and_disallowed_urls_are_refused(url: str, code: str) -> None:
    assert _code(lambda: check_url(url)) == code


def test_a_url_of_exactly_250_characters_passes() -> None:
    url = "https://example.com/" + "a" * 230
    assert len(url) == 250
    assert check_url(url).host == "example.com"


def test_a_homograph_domain_is_refused_and_shown_in_punycode() -> None:
    with pytest.raises(WebError) as caught:
        check_url("https://exаmple.com/docs", blocked=["example.org"])
    assert caught.value.code == "url_not_allowed"
    assert "xn--" in caught.value.message


def test_domain_list_entries_are_normalised_or_refused() -> None:
    assert normalise_domain_entry(" Docs.Example.COM/Blog ") == "docs.example.com/Blog"
    for bad, reason in (
        ("https://example.com", "scheme"),
        ("exаmple.com", "punycode"),
        ("user@example.com", "not a domain"),
        ("a..b", "not a domain"),
    ):
        with pytest.raises(ValueError, match=reason):
            normalise_domain_entry(bad)


@pytest.mark.parametrize(
    ("url", "allowed", "blocked", "ok"),
    [
        ("https://example.com/", ["example.com"], [], True),
        ("https://docs.example.com/a", ["example.com"], [], True),
        ("https://a.b.example.com/", ["example.com"], [], True),
        ("https://notexample.com/", ["example.com"], [], False),
        ("https://example.com.evil.test/", ["example.com"], [], False),
        ("https://example.org/", ["example.com"], [], False),
        ("https://example.com/blog", ["example.com/blog"], [], True),
        ("https://example.com/blog/post-1", ["example.com/blog"], [], True),
        ("https://example.com/blogger", ["example.com/blog"], [], False),
        ("https://example.com/admin", ["example.com/blog"], [], False),
        ("https://example.com/blog/../admin", ["example.com/blog"], [], False),
        ("https://example.com/", [], ["example.com"], False),
        ("https://private.example.com/x", [], ["private.example.com"], False),
        ("https://www.example.com/x", [], ["private.example.com"], True),
        ("https://example.com/private/x", [], ["example.com/private"], False),
        ("https://example.com/public", [], ["example.com/private"], True),
        ("https://EXAMPLE.com./", ["example.com"], [], True),
    ],
)
def test_domain_lists_follow_the_web_fetch_tool_semantics(
    url: str, allowed: list[str], blocked: list[str], ok: bool
) -> None:
    if ok:
        check_url(url, allowed=allowed, blocked=blocked)
    else:
        assert _code(lambda: check_url(url, allowed=allowed, blocked=blocked)) == (
            "url_not_allowed"
        )


def test_both_lists_at_once_are_invalid() -> None:
    code = _code(
        lambda: check_domain_lists("a.com", "/", allowed=["a.com"], blocked=["b.com"])
    )
    assert code == "invalid_input"


# Addresses, resolved and on every redirect hop ---------------------------------


def test_loopback_and_private_literals_are_refused_by_default(
    local_web: LocalWeb,
) -> None:
    url = local_web.page("/page", "<p>secret</p>")
    assert _code(lambda: fetch(url)) == "url_not_allowed"
    for literal in ("http://[::1]/", "http://0.0.0.0/", "http://169.254.169.254/"):
        assert _code(lambda literal=literal: fetch(literal)) == "url_not_allowed"
    assert local_web.hosts == []


def test_a_name_resolving_to_loopback_is_refused(
    local_web: LocalWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_web.page("/", "<p>admin panel</p>")
    monkeypatch.setattr(web_sources, "resolve", lambda host, port: ["127.0.0.1"])
    with pytest.raises(WebError) as caught:
        fetch(f"http://innocent.example:{local_web.port}/")
    assert caught.value.code == "url_not_allowed"
    assert "127.0.0.1" in caught.value.message
    assert local_web.hosts == []


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        web_sources, "resolve", lambda host, port: ["93.184.216.34", "::ffff:10.1.1.1"]
    )
    assert _code(lambda: fetch("https://mixed.example/")) == "url_not_allowed"


def test_an_unresolvable_name_is_not_accessible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    monkeypatch.setattr(web_sources, "resolve", fail)
    assert _code(lambda: fetch("https://nowhere.example/")) == "url_not_accessible"


@pytest.fixture
def start_host(
    local_web: LocalWeb, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    """'start.test' resolves to the loopback server and is exempt from the check."""
    addresses = {"start.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]}
    monkeypatch.setattr(web_sources, "resolve", lambda host, port: addresses[host])
    settings.WEB_PRIVATE_HOSTS = ["start.test"]
    return f"http://start.test:{local_web.port}"


def test_the_connection_goes_to_the_vetted_address_with_the_url_host(
    local_web: LocalWeb, start_host: str
) -> None:
    local_web.page("/hello", "<title>Hi</title><p>Hello there.</p>")
    fetched = fetch(start_host + "/hello")
    assert fetched.data.endswith(b"Hello there.</p>")
    assert fetched.title == "Hi"
    assert local_web.hosts == [f"start.test:{local_web.port}"]


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/secret",
        "http://[::ffff:127.0.0.1]:{port}/secret",
        "http://internal.test:{port}/secret",
        "http://[::1]:{port}/secret",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_to_an_internal_address_is_refused(
    local_web: LocalWeb, start_host: str, target: str
) -> None:
    local_web.page("/secret", "<p>internal only</p>")
    local_web.redirect("/go", target.format(port=local_web.port))
    assert _code(lambda: fetch(start_host + "/go")) == "url_not_allowed"
    assert local_web.hosts == [f"start.test:{local_web.port}"]


def test_a_redirect_is_checked_against_the_domain_lists(
    local_web: LocalWeb, start_host: str
) -> None:
    local_web.redirect("/go", "http://elsewhere.example/page")
    code = _code(lambda: fetch(start_host + "/go", allowed=["start.test"]))
    assert code == "url_not_allowed"


def test_redirects_are_followed_within_the_limit(
    local_web: LocalWeb, start_host: str, settings: Any
) -> None:
    settings.WEB_FETCH_MAX_REDIRECTS = 2
    local_web.page("/final", "<p>Arrived.</p>")
    local_web.redirect("/one", "/two", status=301)
    local_web.redirect("/two", start_host + "/final", status=307)
    assert fetch(start_host + "/one").url == start_host + "/final"
    local_web.redirect("/loop", "/loop")
    assert _code(lambda: fetch(start_host + "/loop")) == "url_not_accessible"


# Content types, sizes and statuses ---------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/zip", "image/png", "application/json", "text/csv", ""],
)
def test_only_html_text_and_pdf_are_fetched(
    local_web: LocalWeb, loopback_allowed: Any, content_type: str
) -> None:
    url = local_web.page("/file", b"data", content_type or "x")
    if not content_type:
        local_web.routes["/file"].content_type = ""
    assert _code(lambda: fetch(url)) == "unsupported_content_type"


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=utf-8", "text/plain", "application/pdf"]
)
def test_supported_content_types_are_fetched(
    local_web: LocalWeb, loopback_allowed: Any, content_type: str
) -> None:
    url = local_web.page("/file", b"%PDF-1.4 or text", content_type)
    assert fetch(url).mime_type == content_type.split(";")[0]


def test_a_page_over_the_size_limit_is_refused(
    local_web: LocalWeb, loopback_allowed: Any, settings: Any
) -> None:
    settings.WEB_FETCH_MAX_MB = 1
    url = local_web.page("/big", b"a" * (1024 * 1024 + 1), "text/plain")
    with pytest.raises(WebError) as caught:
        fetch(url)
    assert caught.value.code == "url_not_accessible"
    assert "1 MB" in caught.value.message
    local_web.page("/fits", b"a" * (1024 * 1024), "text/plain")
    assert len(fetch(local_web.base_url + "/fits").data) == 1024 * 1024


def test_an_http_error_is_not_accessible(
    local_web: LocalWeb, loopback_allowed: Any
) -> None:
    assert _code(lambda: fetch(local_web.base_url + "/missing")) == (
        "url_not_accessible"
    )


def test_a_slow_server_meets_the_time_limit(
    local_web: LocalWeb, loopback_allowed: Any, settings: Any
) -> None:
    settings.WEB_FETCH_TIMEOUT_S = 1
    url = local_web.page("/slow", b"x" * 40, "text/plain")
    # Each byte comes well within the socket timeout; the whole takes 2 s.
    local_web.routes["/slow"].drip = 0.05
    with pytest.raises(WebError) as caught:
        fetch(url)
    assert caught.value.code == "url_not_accessible"
    assert "longer than 1 s" in caught.value.message


@pytest.mark.parametrize(
    ("cert_for", "ok"), [("start.test", True), ("other.test", False)]
)
def test_https_connects_to_the_vetted_address_and_verifies_the_host_name(
    tmp_path: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    cert_for: str,
    ok: bool,
) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(cert_for).configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    settings.WEB_FETCH_CA_FILE = str(ca_file)
    settings.WEB_PRIVATE_HOSTS = ["start.test"]
    monkeypatch.setattr(web_sources, "resolve", lambda host, port: ["127.0.0.1"])
    web = LocalWeb(tls=server_context)
    web.thread.start()
    try:
        web.page("/tls", "<title>Secure</title><p>Over TLS.</p>")
        url = f"https://start.test:{web.port}/tls"
        if ok:
            assert fetch(url).title == "Secure"
            assert web.hosts == [f"start.test:{web.port}"]
        else:
            assert _code(lambda: fetch(url)) == "url_not_accessible"
    finally:
        web.server.shutdown()
        web.server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://localhost/",
    ],
)
def test_odd_spellings_of_loopback_are_refused_after_resolution(url: str) -> None:
    # These are not IP literals to Python, so they go through the resolver,
    # whose answer is what gets checked.
    assert _code(lambda: fetch(url)) == "url_not_allowed"
