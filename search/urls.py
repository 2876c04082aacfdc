"""URLs of the ask pages."""

from __future__ import annotations

from django.urls import path

from search import views

app_name = "search"

urlpatterns = [
    path("", views.ask, name="ask"),
    path("stream", views.ask_stream, name="ask-stream"),
    path("answers/<uuid:code>/", views.answer_detail, name="answer"),
    path("answers/<uuid:code>/feedback", views.answer_feedback, name="feedback"),
    path(
        "answers/<uuid:code>/files/<uuid:artifact>",
        views.answer_artifact,
        name="artifact",
    ),
]
