"""Print a new API token for a user (the token is the last line of output)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from documents.api_auth import token_create
from documents.services import workspace_default_for_user


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--create-user", action="store_true")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **options: Any) -> None:
        model = get_user_model()
        username = options["username"]
        user = model.objects.filter(username=username).first()
        if user is None:
            if not options["create_user"]:
                raise CommandError(
                    f"No user {username!r}; pass --create-user to make one."
                )
            user = model.objects.create_user(username=username)
            self.stdout.write(f"Created user {username} (no password; API only).")
        workspace_default_for_user(user=user)
        token = token_create(user=user, name=options["name"])
        self.stdout.write(f"Token for {username} (shown once):")
        self.stdout.write(token)
