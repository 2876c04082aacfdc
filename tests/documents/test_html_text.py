"""HTML main-content extraction (selectolax/Lexbor; nothing is executed)."""

from __future__ import annotations

from typing import Any

from documents.ingestion.extraction import HTML, extract
from documents.ingestion.html_text import decode_html, html_title, html_to_text
from documents.remote.web import fetch
from tests.webserver import LocalWeb


def test_main_or_article_wins_over_the_page_chrome() -> None:
    page = b"""<html><body><header>Site header</header><nav>Home | About</nav>
    <div class="sidebar">Ads here</div>
    <article><h2>Release notes</h2><p>Version 2 adds export.</p></article>
    <footer>Footer text</footer></body></html>"""
    text = html_to_text(page)
    assert text == "## Release notes\n\nVersion 2 adds export."


def test_without_main_the_body_is_used_minus_boilerplate_and_hidden_parts() -> None:
    page = b"""<body><nav>menu</nav><h1>Title</h1><p>Visible  text
    over two lines.</p><p hidden>hidden text</p><div aria-hidden="true">icon</div>
    <script>alert('never run')</script><noscript>enable js</noscript>
    <form><input name=q><button>Search</button></form>
    <table><tr><th>Plan</th><th>Price</th></tr><tr><td>Pro</td><td>30</td></tr></table>
    <pre>a  =  1</pre><ul><li>one</li><li>two</li></ul></body>"""
    text = html_to_text(page)
    assert "# Title" in text
    assert "Visible text over two lines." in text
    assert "Plan | Price\nPro | 30" in text
    assert "- one\n\n- two" in text
    for hidden in ("menu", "hidden text", "icon", "never run", "enable js", "Search"):
        assert hidden not in text


def test_encodings_follow_the_header_then_utf8_then_the_meta_tag() -> None:
    latin = '<meta charset="iso-8859-1"><p>Café crème</p>'.encode("latin-1")
    assert "Café crème" in html_to_text(latin)
    utf8 = '<meta charset="iso-8859-1"><p>Café</p>'.encode()
    assert "Café" in html_to_text(utf8)
    assert decode_html("Grüße".encode("cp1252"), "cp1252") == "Grüße"
    # (Not FF FE: a byte-order mark wins over any declaration, as in browsers.)
    assert decode_html(b"\xff\xfd", "no-such-codec").startswith("ÿ")
    assert decode_html("<p>Grüße</p>".encode("utf-16"), "latin-1") == "<p>Grüße</p>"


def test_the_title_and_the_pipeline_entry() -> None:
    page = b"<title>  Two\n words </title><p>Body text here.</p>"
    assert html_title(page) == "Two words"
    assert extract(page, HTML).text == "Body text here."


def test_a_declared_charset_is_kept_in_the_snapshot(
    local_web: LocalWeb, loopback_allowed: Any, user: Any, workspace: Any
) -> None:
    from documents.ingestion.pipeline import document_ingest
    from documents.models import Document
    from documents.web import documents as web_documents

    body = "<main><p>Smörgåsbord for everyone.</p></main>".encode("latin-1")
    url = local_web.page("/latin", body, "text/html; charset=ISO-8859-1")
    assert fetch(url).charset == "ISO-8859-1"
    created = web_documents.document_create_from_url(
        workspace=workspace, uploader=user, url=url
    )
    document_ingest(document_id=created.document.id)
    document = Document.objects.get(id=created.document.id)
    assert document.status == "ready", document.error
    assert "Smörgåsbord for everyone." in document.text
