"""Pages for asking questions and reading cited answers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from documents.permissions import VIEWER, require_role
from documents.selectors import (
    document_ids_for_filter,
    document_list_for_user,
    tags_for_workspace,
    workspace_for_request,
)
from search import answering, selectors, services, web_fetch_display
from search.api import MAX_QUESTION_CHARS
from search.models import Answer, Feedback


@login_required
def ask(request: HttpRequest) -> HttpResponse:
    """The question form; a POST answers and shows the answer page."""
    workspace = workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=VIEWER)
    if request.method == "POST":
        text = request.POST.get("question", "").strip()
        if not text:
            messages.error(request, "Type a question first.")
        elif len(text) > MAX_QUESTION_CHARS:
            messages.error(
                request, f"Keep questions under {MAX_QUESTION_CHARS} characters."
            )
        else:
            document_ids = document_ids_for_filter(
                user=request.user,
                workspace=workspace,
                document_ids=request.POST.getlist("document_ids") or None,
                tags=request.POST.getlist("tags") or None,
            )
            answer = answering.answer_question(
                workspace=workspace,
                user=request.user,
                text=text,
                document_ids=document_ids,
            )
            return redirect("search:answer", code=answer.code)
    user: Any = request.user
    recent = (
        Answer.objects.filter(question__workspace=workspace, question__user=user)
        .select_related("question")
        .order_by("-created")[:10]
    )
    documents = document_list_for_user(user=user, workspace=workspace).filter(
        status="ready"
    )
    return render(
        request,
        "search/ask.html",
        {
            "recent": recent,
            "documents": documents,
            "tags": tags_for_workspace(workspace=workspace),
        },
    )


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
    user: Any = request.user
    feedback = Feedback.objects.filter(answer=answer, user=user).first()
    return render(
        request,
        "search/answer.html",
        {
            "answer": answer,
            "segments": segments,
            "citations": citations.values(),
            "web_cited": web_cited,
            "fetches": web_fetch_display.fetch_rows(answer),
            "feedback": feedback,
        },
    )


@login_required
@require_POST
def answer_feedback(request: HttpRequest, code: str) -> HttpResponse:
    """Record the user's helpful / not helpful verdict on an answer."""
    answer = selectors.answer_get_for_user(user=request.user, code=code)
    verdict = request.POST.get("helpful")
    if verdict not in ("yes", "no"):
        messages.error(request, "Choose helpful or not helpful.")
    else:
        services.feedback_record(
            answer=answer,
            user=request.user,
            helpful=verdict == "yes",
            comment=request.POST.get("comment", ""),
        )
        messages.success(request, "Thanks for the feedback.")
    return redirect("search:answer", code=answer.code)
