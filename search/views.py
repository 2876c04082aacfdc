"""Pages for asking questions and reading cited answers."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from documents.models import Workspace
from documents.selectors import (
    document_ids_for_filter,
    document_list_for_user,
    tags_for_workspace,
    workspace_for_request,
)
from documents.teams.permissions import VIEWER, require_role
from search import answering, selectors, services, web_fetch_display
from search.api import MAX_QUESTION_CHARS, streaming
from search.models import Answer, AnswerArtifact, Citation, Conversation, Feedback

# Characters of surrounding text shown around a cited passage.
CONTEXT_CHARS = 400


def _conversation(request: HttpRequest, workspace: Workspace) -> Conversation | None:
    code = request.POST.get("conversation") or None
    if code is None:
        return None
    user: Any = request.user
    return Conversation.objects.filter(
        code=code, user=user, workspace=workspace
    ).first()


def _document_ids(request: HttpRequest, workspace: Workspace) -> list[str] | None:
    """The documents the form limits the question to (None: the whole workspace)."""
    return document_ids_for_filter(
        user=request.user,
        workspace=workspace,
        document_ids=request.POST.getlist("document_ids") or None,
        tags=request.POST.getlist("tags") or None,
    )


# The newest ready documents offered as checkboxes to scope a question;
# beyond them, tags scope (a page of ten thousand checkboxes helps nobody).
SCOPE_DOCUMENTS = 200
RECENT = 15


@login_required
def ask(request: HttpRequest) -> HttpResponse:
    """The question form; a POST answers and shows the answer page.

    A refused question comes back in the box, never lost.
    """
    workspace = workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=VIEWER)
    text = ""
    if request.method == "POST":
        text = request.POST.get("question", "").strip()
        if not text:
            messages.error(request, "Type a question first.")
        elif len(text) > MAX_QUESTION_CHARS:
            messages.error(
                request,
                f"The question is {len(text):,} characters; the limit is "
                f"{MAX_QUESTION_CHARS:,}. Shorten it and ask again.",
            )
        else:
            answer = answering.answer_question(
                workspace=workspace,
                user=request.user,
                text=text,
                document_ids=_document_ids(request, workspace),
                conversation=_conversation(request, workspace),
            )
            return redirect("search:answer", code=answer.code)
    user: Any = request.user
    ready = document_list_for_user(user=user, workspace=workspace).filter(
        status="ready"
    )
    documents = list(ready[: SCOPE_DOCUMENTS + 1])
    return render(
        request,
        "search/ask.html",
        {
            "question": text,
            "conversation": request.POST.get("conversation", ""),
            "max_question": MAX_QUESTION_CHARS,
            "recent": selectors.recent_conversations(
                user=user, workspace=workspace, limit=RECENT
            ),
            "documents": documents[:SCOPE_DOCUMENTS],
            "more_documents": len(documents) > SCOPE_DOCUMENTS,
            "tags": tags_for_workspace(workspace=workspace),
        },
    )


@login_required
@require_POST
def ask_stream(request: HttpRequest) -> HttpResponseBase:
    """The ask form's streaming twin: the answer as Server-Sent Events."""
    text = request.POST.get("question", "").strip()
    if not text or len(text) > MAX_QUESTION_CHARS:
        return JsonResponse(
            {
                "error": f"The question is {len(text):,} characters; ask one of "
                f"1 to {MAX_QUESTION_CHARS:,} characters.",
                "limit": MAX_QUESTION_CHARS,
            },
            status=400,
        )
    workspace = workspace_for_request(request)
    require_role(user=request.user, workspace=workspace, role=VIEWER)
    return streaming(
        answering.answer_events(
            workspace=workspace,
            user=request.user,
            text=text,
            document_ids=_document_ids(request, workspace),
            conversation=_conversation(request, workspace),
        )
    )


def passage(citation: Citation) -> dict[str, Any]:
    """A cited passage in its surrounding text, for the side panel."""
    document = citation.document
    text = document.text
    start = citation.start_char or 0
    end = citation.end_char if citation.end_char is not None else start
    if document.sends_original and citation.start_page and document.page_starts:
        # The whole extracted page beside the rendered one.
        starts = document.page_starts
        left = starts[citation.start_page - 1]
        last = citation.end_page or citation.start_page
        right = starts[last] if last < len(starts) else len(text)
    else:
        left = max(0, start - CONTEXT_CHARS)
        right = min(len(text), end + CONTEXT_CHARS)
    return {
        "citation": citation,
        "before": ("…" if left > 0 and not document.sends_original else "")
        + text[left:start],
        "cited": text[start:end],
        "after": text[end:right] + ("…" if right < len(text) else ""),
        "pages": list(
            range(
                citation.start_page or 0,
                (citation.end_page or citation.start_page or -1) + 1,
            )
        )
        if document.sends_original and citation.start_page
        else [],
    }


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
    conversation = answer.question.conversation
    turns = (
        Answer.objects.filter(question__conversation=conversation)
        .exclude(id=answer.id)
        .select_related("question")
        .order_by("created")
        if conversation
        else Answer.objects.none()
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
            "feedback": feedback,
            "passages": [passage(c) for c in citations.values()],
            "not_found": not citations and not web_cited,
            "conversation": conversation,
            "turns": turns,
            "max_question": MAX_QUESTION_CHARS,
            "code_runs": answer.code_runs,
            "artifacts": list(answer.artifacts.all()),
        },
    )


@login_required
def answer_artifact(request: HttpRequest, code: str, artifact: str) -> FileResponse:
    """A file the answer's code made: images inline, anything else downloaded.

    Only members of the answer's workspace reach it (404 for anyone else), and
    only raster images are served as what they are: any other file, SVG and
    HTML included, is an attachment of type application/octet-stream.
    """
    answer = selectors.answer_get_for_user(user=request.user, code=code)
    item = get_object_or_404(AnswerArtifact, answer=answer, code=artifact)
    return FileResponse(
        item.content.open("rb"),
        content_type=item.mime_type if item.is_image else "application/octet-stream",
        as_attachment=not item.is_image,
        filename=item.filename,
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
