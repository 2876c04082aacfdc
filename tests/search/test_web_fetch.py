"""Claude's web fetch tool while answering, through the fake Messages API."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from documents.ingestion.pipeline import document_ingest
from documents.models import Document
from documents.services import workspace_default_for_user
from search.models import Answer
from search.web_fetch import urls_in
from tests.conftest import HANDBOOK, ingested
from tests.fakes.anthropic import FakeAnthropic
from tests.webserver import LocalWeb

PRICING_URL = "https://example.com/pricing"
PRICING = (
    "Example Corp pricing. The Pro plan costs 30 euros per month per seat. "
    "The Team plan adds single sign-on for 50 euros per month per seat."
)


def _enable(user: Any, **fields: Any) -> Any:
    workspace = workspace_default_for_user(user=user)
    workspace.web_fetch_enabled = True
    for name, value in fields.items():
        setattr(workspace, name, value)
    workspace.save()
    return workspace


def _ask(api: Client, question: str) -> dict[str, Any]:
    response = api.post(
        "/api/v1/ask",
        json.dumps({"question": question}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def _messages(fake: FakeAnthropic) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/messages"]


def test_urls_are_found_in_questions_without_trailing_punctuation() -> None:
    text = (
        "Compare https://a.example/x?y=1, (https://b.example/p) and http://c.example."
    )
    assert urls_in(text) == [
        "https://a.example/x?y=1",
        "https://b.example/p",
        "http://c.example",
    ]


def test_the_request_includes_the_tool_without_a_beta(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    _enable(
        user,
        web_fetch_max_uses=3,
        web_fetch_max_content_tokens=20_000,
        allowed_domains=["example.com"],
    )
    fake_anthropic.web_pages[PRICING_URL] = ("Pricing", PRICING)
    _ask(api, f"What does {PRICING_URL} say the Pro plan costs?")
    (request,) = _messages(fake_anthropic)
    assert "anthropic-beta" not in request.headers
    assert request.body["tools"] == [
        {
            "type": "web_fetch_20260318",
            "name": "web_fetch",
            "max_uses": 3,
            "citations": {"enabled": True},
            "max_content_tokens": 20_000,
            "allowed_domains": ["example.com"],
        }
    ]
    assert "web_fetch" in request.body["system"]


def test_fetching_fresh_turns_the_cache_off(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    _enable(user, web_fetch_use_cache=False)
    _ask(api, f"What does {PRICING_URL} say?")
    (request,) = _messages(fake_anthropic)
    assert request.body["tools"][0]["use_cache"] is False


def test_the_settings_page_offers_fresh_fetches(web: Client, user: Any) -> None:
    page = web.get("/documents/settings").content.decode()
    assert 'name="web_fetch_use_cache"' in page
    workspace = _enable(user)
    form = {
        "web_fetch_enabled": "on",
        "web_fetch_max_uses": "5",
        "web_fetch_max_content_tokens": "50000",
        "allowed_domains": "",
        "blocked_domains": "",
    }
    web.post("/documents/settings", form)
    workspace.refresh_from_db()
    assert workspace.web_fetch_use_cache is False


def test_every_error_code_is_explained_on_the_answer_page(
    online: Any, api: Client, web: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    codes = [
        "invalid_tool_input",
        "url_too_long",
        "url_not_allowed",
        "url_not_in_prior_context",
        "url_not_accessible",
        "unsupported_content_type",
        "too_many_requests",
        "max_uses_exceeded",
        "unavailable",
        "content_too_large",
    ]
    _enable(user, web_fetch_max_uses=20)
    urls = [f"https://example.com/{code}" for code in codes]
    for url, code in zip(urls, codes, strict=True):
        fake_anthropic.web_errors[url] = code
    body = _ask(api, "Read " + " ".join(urls))
    assert [f["error_code"] for f in body["web_fetches"]] == codes
    page = web.get(f"/ask/answers/{body['id']}/").content.decode()
    for phrase in (
        "The address is not a valid URL.",
        "longer than the 250 characters allowed",
        "domain rules do not allow this site",
        "only fetch addresses that appear in the conversation",
        "could not be reached",
        "Only web pages and PDFs can be fetched.",
        "Too many fetches right now",
        "limit of fetches per answer was reached",
        "failed on Anthropic&#x27;s side",
        "too large to fetch",
    ):
        assert phrase in page, phrase


def test_the_block_list_is_sent_when_there_is_no_allow_list(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    _enable(user, blocked_domains=["evil.example"])
    _ask(api, f"Summarise {PRICING_URL}")
    (request,) = _messages(fake_anthropic)
    (tool,) = request.body["tools"]
    assert tool["blocked_domains"] == ["evil.example"]
    assert "allowed_domains" not in tool


def test_no_tool_without_a_url_or_when_disabled(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    _enable(user)
    _ask(api, "How many vacation days do employees get?")
    workspace = workspace_default_for_user(user=user)
    workspace.web_fetch_enabled = False
    workspace.save()
    _ask(api, f"How many vacation days? See {PRICING_URL}")
    for request in _messages(fake_anthropic):
        assert "tools" not in request.body
        assert "anthropic-beta" not in request.headers


def test_fetches_and_citations_are_stored_and_rendered(
    online: Any, api: Client, web: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    _enable(user)
    fake_anthropic.web_pages[PRICING_URL] = ("Pricing · Example Corp", PRICING)
    body = _ask(api, f"How much does the Pro plan cost per seat? {PRICING_URL}")
    (fetch,) = body["web_fetches"]
    assert fetch["url"] == PRICING_URL
    assert fetch["title"] == "Pricing · Example Corp"
    assert fetch["error_code"] is None
    assert fetch["retrieved_at"]
    web_cited = [c for s in body["segments"] for c in s.get("web", [])]
    assert web_cited, body["segments"]
    cited = web_cited[0]
    assert cited["fetch"] == 0
    assert PRICING[cited["start_char"] : cited["end_char"]] == cited["cited_text"]
    assert "30 euros" in " ".join(c["cited_text"] for c in web_cited)

    page = web.get(f"/ask/answers/{body['id']}/").content.decode()
    assert f'href="{PRICING_URL}"' in page
    assert "Pricing · Example Corp" in page
    assert "The Pro plan costs 30 euros per month per seat." in page
    assert 'class="cite web"' in page
    assert "Fetched pages" in page
    assert "Save to knowledge base" in page
    assert fetch["retrieved_at"][:10] in page


def test_in_chunks_mode_fetched_pages_are_numbered_from_zero(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    # Search results are counted apart from documents, so with no document
    # blocks the first fetched page is document_index 0, not a handbook chunk.
    settings.ANSWER_CONTEXT_BUDGET_TOKENS = 10
    ingested(user, "handbook.md", HANDBOOK.encode())
    _enable(user)
    fake_anthropic.web_pages[PRICING_URL] = ("Pricing", PRICING)
    body = _ask(api, f"How much does the Pro plan cost per seat? {PRICING_URL}")
    assert body["context_mode"] == "chunks"
    web_cited = [c for s in body["segments"] for c in s.get("web", [])]
    assert web_cited and all(c["fetch"] == 0 for c in web_cited)
    assert "30 euros" in " ".join(c["cited_text"] for c in web_cited)
    assert all(c["kind"] == "search_result_location" for c in body["citations"])


def test_fetch_errors_are_shown_with_their_codes(
    online: Any, api: Client, web: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    _enable(user, web_fetch_max_uses=2, blocked_domains=["blocked.example"])
    fake_anthropic.web_pages[PRICING_URL] = ("Pricing", PRICING)
    fake_anthropic.web_pages["https://example.com/third"] = ("Third", "Third page.")
    body = _ask(
        api,
        "Compare https://blocked.example/a with "
        f"{PRICING_URL} and https://example.com/third please.",
    )
    codes = [(f["url"], f["error_code"]) for f in body["web_fetches"]]
    assert codes == [
        ("https://blocked.example/a", "url_not_allowed"),
        (PRICING_URL, None),
        ("https://example.com/third", "max_uses_exceeded"),
    ]
    page = web.get(f"/ask/answers/{body['id']}/").content.decode()
    assert "url_not_allowed" in page
    assert "max_uses_exceeded" in page
    assert page.count("Save to knowledge base") == 1


def test_a_missing_page_is_not_accessible_and_the_answer_says_so(
    online: Any, api: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    _enable(user)
    body = _ask(api, "What is on https://example.com/gone ?")
    assert body["web_fetches"][0]["error_code"] == "url_not_accessible"
    answer = Answer.objects.get(code=body["id"])
    assert answer.citations.count() == 0
    assert "could not find" in answer.text.lower()


def test_saving_a_fetched_page_adds_it_as_a_url_document(
    online: Any,
    api: Client,
    web: Client,
    user: Any,
    fake_anthropic: FakeAnthropic,
    local_web: LocalWeb,
    loopback_allowed: Any,
) -> None:
    url = local_web.page(
        "/pricing", f"<title>Pricing</title><main><p>{PRICING}</p></main>"
    )
    _enable(user)
    fake_anthropic.web_pages[url] = ("Pricing", PRICING)
    body = _ask(api, f"How much is the Pro plan? {url}")
    answer_path = f"/ask/answers/{body['id']}/"
    response = web.post(
        "/documents/add-urls", {"urls": url, "next": answer_path}, follow=False
    )
    assert response.status_code == 302
    assert response["Location"] == answer_path
    document = Document.objects.get(source_url=url)
    document_ingest(document_id=document.id)
    document.refresh_from_db()
    assert document.status == "ready", document.error
    assert "30 euros per month" in document.text
    assert document.title == "Pricing"


def test_only_http_links_are_rendered_for_fetches(
    online: Any, api: Client, web: Client, user: Any, fake_anthropic: FakeAnthropic
) -> None:
    _enable(user)
    body = _ask(api, "What is on https://example.com/gone ?")
    answer = Answer.objects.get(code=body["id"])
    answer.web_fetches = [
        {
            "url": "javascript:alert(1)",
            "title": "Bad",
            "retrieved_at": None,
            "error_code": None,
        }
    ]
    answer.save()
    page = web.get(f"/ask/answers/{body['id']}/").content.decode()
    assert "Bad" in page
    assert 'href="javascript:' not in page
    assert "Save to knowledge base" not in page
