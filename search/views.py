"""Pages for asking questions and reading cited answers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from documents.services import workspace_default_for_user
from search import answering, selectors, web_fetch_display
from search.api import MAX_QUESTION_CHARS
from search.models import Answer


@login_required
def ask(request: HttpRequest) -> HttpResponse:
    """The question form; a POST answers and shows the answer page."""
    workspace = workspace_default_for_user(user=request.user)
    if request.method == "POST":
        text = request.POST.get("question", "").strip()
        if not text:
            messages.error(request, "Type a question first.")
        elif len(text) > MAX_QUESTION_CHARS:
            messages.error(
                request, f"Keep questions under {MAX_QUESTION_CHARS} characters."
            )
        else:
            answer = answering.answer_question(
                workspace=workspace, user=request.user, text=text
            )
            return redirect("search:answer", code=answer.code)
    user: Any = request.user
    recent = (
        Answer.objects.filter(question__workspace=workspace, question__user=user)
        .select_related("question")
        .order_by("-created")[:10]
    )
    return render(request, "search/ask.html", {"recent": recent})


@login_required
def answer_detail(request: HttpRequest, code: str) -> HttpResponse:
    """An answer with numbered citation markers that open the cited passage."""
    answer = selectors.answer_get_for_user(user=request.user, code=code)
    citations = {c.ordinal: c for c in answer.citations.all()}
    segments = [
        {
            "text": segment["text"],
            "citations": [citations[o] for o in segment["citations"] if o in citations],
        }
        for segment in answer.segments
    ]
    web_cited = web_fetch_display.number_web_citations(
        answer, segments, first=len(citations) + 1
    )
    return render(
        request,
        "search/answer.html",
        {
            "answer": answer,
            "segments": segments,
            "citations": citations.values(),
            "web_cited": web_cited,
            "fetches": web_fetch_display.fetch_rows(answer),
        },
    )
