"""Create the first admin account on first run and say how to log in."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from documents.services import workspace_default_for_user


class Command(BaseCommand):
    help = (
        "Create the 'admin' superuser if no superuser exists (password printed once)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        model = get_user_model()
        if model.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "Log in with your admin account (create more in /admin/)."
            )
            return
        password = os.environ.get("CAIRN_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = model.objects.create_superuser(username="admin", password=password)
        workspace_default_for_user(user=user)
        shown = (
            "from CAIRN_ADMIN_PASSWORD"
            if "CAIRN_ADMIN_PASSWORD" in os.environ
            else password
        )
        self.stdout.write("First run: created the admin account.")
        self.stdout.write(
            f"  username: admin\n  password: {shown}  (shown only this once)"
        )
