"""URLs of the team pages."""

from __future__ import annotations

from django.urls import path

from documents.teams import views

app_name = "team"

urlpatterns = [
    path("workspaces/switch", views.workspace_switch, name="switch"),
    path("workspaces/new", views.workspace_create, name="create"),
    path("workspace/members/", views.members, name="members"),
    path("workspace/members/<int:membership_id>/role", views.member_role, name="role"),
    path(
        "workspace/members/<int:membership_id>/remove",
        views.member_remove,
        name="remove",
    ),
    path("workspace/invitations", views.invite, name="invite"),
    path(
        "workspace/invitations/<int:invitation_id>/revoke",
        views.invitation_revoke,
        name="revoke",
    ),
    path("invite/<str:token>/", views.accept, name="accept"),
    path("account/tokens/", views.tokens, name="tokens"),
    path(
        "account/tokens/<int:token_id>/revoke", views.token_revoke, name="token-revoke"
    ),
]
