"""Admin for questions, answers, citations, feedback and their token usage."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from documents.models import Chunk
from search.models import Answer, AnswerArtifact, Citation, Feedback, Question
from search.usage import estimate_cost


class CitationInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Citation
    extra = 0
    fields = (
        "ordinal",
        "kind",
        "document",
        "cited_text",
        "start_char",
        "end_char",
        "start_page",
        "end_page",
    )
    readonly_fields = fields
    can_delete = False


class FeedbackInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Feedback
    extra = 0
    fields = ("user", "helpful", "comment", "updated")
    readonly_fields = fields
    can_delete = False


class AnswerArtifactInline(admin.TabularInline):  # type: ignore[type-arg]
    """Files the answer's code execution made (search/code_execution.py)."""

    model = AnswerArtifact
    extra = 0
    fields = ("filename", "mime_type", "size", "file_id", "created")
    readonly_fields = fields
    can_delete = False


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "question",
        "workspace",
        "mode",
        "model",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost",
        "helpful_votes",
        "latency_ms",
        "created",
    ]
    list_filter = ["mode", "model", "question__workspace"]
    search_fields = ["question__text", "text"]
    readonly_fields = ["question", "segments", "retrieved_chunks", "cost"]
    exclude = ["retrieved_chunk_ids"]
    inlines = [CitationInline, AnswerArtifactInline, FeedbackInline]

    # An answer is a record of what was said: it can be read and deleted,
    # never written or rewritten by hand.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Answer]:
        queryset: QuerySet[Answer] = super().get_queryset(request)
        return queryset.select_related("question__workspace").annotate(
            helpful_n=Count("feedback", filter=Q(feedback__helpful=True)),
            unhelpful_n=Count("feedback", filter=Q(feedback__helpful=False)),
        )

    @admin.display(description="workspace")
    def workspace(self, obj: Any) -> str:
        return str(obj.question.workspace)

    @admin.display(description="est. cost ($)")
    def cost(self, obj: Any) -> str:
        value = estimate_cost(
            obj.model,
            obj.input_tokens,
            obj.output_tokens,
            obj.cache_read_tokens,
            obj.cache_write_tokens,
            obj.cache_write_1h_tokens,
        )
        return f"{value:.4f}"

    @admin.display(description="👍 / 👎")
    def helpful_votes(self, obj: Any) -> str:
        return f"{getattr(obj, 'helpful_n', 0)} / {getattr(obj, 'unhelpful_n', 0)}"

    @admin.display(description="retrieved chunks, best first")
    def retrieved_chunks(self, obj: Any) -> str:
        ids = [int(i) for i in obj.retrieved_chunk_ids or []]
        chunks = {
            c.id: c for c in Chunk.objects.filter(id__in=ids).select_related("document")
        }
        rows = [
            (i, chunks[i].document.title, chunks[i].ordinal, chunks[i].text[:300])
            for i in ids
            if i in chunks
        ]
        if not rows:
            return "—"
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li><strong>{} #{}</strong> (chunk {})<br>{}</li>",
                ((title, ordinal, i, text) for i, title, ordinal, text in rows),
            ),
        )


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["text", "workspace", "user", "created"]
    list_filter = ["workspace"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["question", "helpful", "comment", "user", "workspace", "updated"]
    list_filter = ["helpful", "answer__question__workspace"]
    search_fields = ["comment", "answer__question__text"]
    readonly_fields = ["answer_link", "user", "helpful", "comment", "created"]
    exclude = ["answer"]

    # People give feedback on the answer page; here it is read, never made
    # or rewritten.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Feedback]:
        queryset: QuerySet[Feedback] = super().get_queryset(request)
        return queryset.select_related("answer__question__workspace", "user")

    @admin.display(description="question")
    def question(self, obj: Any) -> str:
        url = reverse("admin:search_answer_change", args=[obj.answer_id])
        return format_html('<a href="{}">{}</a>', url, obj.answer.question.text[:100])

    @admin.display(description="workspace")
    def workspace(self, obj: Any) -> str:
        return str(obj.answer.question.workspace)

    @admin.display(description="answer (question, retrieved chunks, citations)")
    def answer_link(self, obj: Any) -> str:
        url = reverse("admin:search_answer_change", args=[obj.answer_id])
        return format_html('<a href="{}">{}</a>', url, obj.answer.question.text)
