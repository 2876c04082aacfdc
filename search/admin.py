"""Admin for questions, answers and citations with their token usage."""

from __future__ import annotations

from django.contrib import admin

from search.models import Answer, Citation, Question


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


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "question",
        "mode",
        "model",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "latency_ms",
        "created",
    ]
    list_filter = ["mode", "model"]
    readonly_fields = ["question", "segments", "retrieved_chunk_ids"]
    inlines = [CitationInline]


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["text", "workspace", "user", "created"]
    list_filter = ["workspace"]
