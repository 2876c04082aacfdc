"""Bearer tokens for the REST API: made for a user, stored hashed, looked up."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.utils import timezone

from documents.models import ApiToken

TOKEN_PREFIX = "cairn_"


def token_create(*, user: Any, name: str = "cli") -> str:
    """Create a token for a user and return it; only its hash is stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, prefix=raw[:12], key_hash=_hash(raw))
    return raw


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def user_for_token(raw: str) -> Any | None:
    """The active user a token belongs to, or None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(raw), revoked__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(id=token.id).update(last_used=timezone.now())
    return token.user
