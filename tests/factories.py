"""Test data builders."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


def make_user(**fields: Any) -> Any:
    """Create a user with a unique name and the shared test password."""
    number = next(_numbers)
    fields.setdefault("username", f"user{number}")
    fields.setdefault("email", f"{fields['username']}@example.com")
    return get_user_model().objects.create_user(password=PASSWORD, **fields)


def join(user: Any, workspace: Any, role: str) -> Any:
    """Make `user` a member of `workspace` with `role`."""
    from documents.models import Membership

    return Membership.objects.create(user=user, workspace=workspace, role=role)
