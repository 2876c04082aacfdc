"""Personal API tokens from the user's page: created, shown once, listed, revoked."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.test import Client

from documents.models import ApiToken
from tests.factories import make_user


def test_token_lifecycle(user: Any, web: Client) -> None:
    page = web.post("/account/tokens/", {"name": "laptop"}).content.decode()
    raw = re.search(r'id="new-token">(cairn_[^<]+)<', page)
    assert raw is not None
    token = ApiToken.objects.get(user=user, name="laptop")
    assert token.key_hash == hashlib.sha256(raw.group(1).encode()).hexdigest()
    assert raw.group(1) not in token.key_hash
    # Shown once: the list shows only its prefix.
    listing = web.get("/account/tokens/").content.decode()
    assert "laptop" in listing and raw.group(1) not in listing
    assert token.prefix in listing

    api = Client(headers={"Authorization": f"Bearer {raw.group(1)}"})
    assert api.get("/api/v1/documents").status_code == 200
    token.refresh_from_db()
    assert token.last_used is not None

    assert web.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    token.refresh_from_db()
    assert token.revoked is not None
    assert api.get("/api/v1/documents").status_code == 401


def test_nobody_revokes_anothers_token(user: Any, web: Client) -> None:
    other = make_user()
    ApiToken.objects.create(user=other, name="x", prefix="cairn_x", key_hash="h" * 64)
    theirs = ApiToken.objects.get(user=other)
    assert web.post(f"/account/tokens/{theirs.id}/revoke").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked is None
    assert "cairn_x" not in web.get("/account/tokens/").content.decode()
