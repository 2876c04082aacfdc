"""Hardening: login throttling, the Content-Security-Policy, HTTPS settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.utils import get_random_secret_key
from django.test import Client

from tests.factories import PASSWORD, make_user

BASE_DIR = Path(settings.BASE_DIR)


def _post_wrong_passwords(client: Client, path: str, username: str, n: int) -> None:
    for _ in range(n):
        response = client.post(path, {"username": username, "password": "wrong"})
        assert response.status_code in (200, 429)


def test_it_refuses_the_right_password_after_thirty_wrong_ones(db: None) -> None:
    user = make_user()
    client = Client()
    _post_wrong_passwords(client, "/login/", user.username, 30)

    response = client.post("/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    text = response.content.decode()
    assert "Too many failed logins" in text
    assert f"Try again in {settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in text


def test_it_throttles_the_admin_login_too(db: None) -> None:
    admin = make_user(is_staff=True, is_superuser=True)
    client = Client()
    _post_wrong_passwords(client, "/admin/login/", admin.username, 30)

    response = client.post(
        "/admin/login/", {"username": admin.username, "password": PASSWORD}
    )

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_lets_a_user_in_below_the_limit_and_resets_the_count(db: None) -> None:
    user = make_user()
    client = Client()
    below = settings.AXES_FAILURE_LIMIT - 1
    _post_wrong_passwords(client, "/login/", user.username, below)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    client.post("/logout/")

    # The success cleared the count: as many failures again are still allowed.
    _post_wrong_passwords(client, "/login/", user.username, below)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def test_it_does_not_lock_the_user_out_from_another_address(db: None) -> None:
    user = make_user()
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    _post_wrong_passwords(attacker, "/login/", user.username, 30)

    response = Client(REMOTE_ADDR="198.51.100.7").post(
        "/login/", {"username": user.username, "password": PASSWORD}
    )

    assert response.status_code == 302


PROXY = "10.0.0.5"


def _through_proxy(forwarded: str, remote: str = PROXY) -> Client:
    return Client(REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)


def test_behind_a_trusted_proxy_each_client_is_throttled_apart(
    db: None, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = [f"{PROXY}/32"]
    user = make_user()
    attacker = _through_proxy("203.0.113.9")
    _post_wrong_passwords(attacker, "/login/", user.username, 30)
    refused = attacker.post(
        "/login/", {"username": user.username, "password": PASSWORD}
    )
    assert refused.status_code == 429

    # The same proxy address, another client behind it: not locked out.
    colleague = _through_proxy("198.51.100.7")
    response = colleague.post(
        "/login/", {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302


def test_a_forged_forwarded_header_buys_no_fresh_attempts(
    db: None, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = [f"{PROXY}/32"]
    user = make_user()
    # Through the proxy, the client writes the left of the list; the proxy
    # appends the address it saw, which is what counts.
    for n in range(settings.AXES_FAILURE_LIMIT + 2):
        _through_proxy(f"192.0.2.{n}, 203.0.113.9").post(
            "/login/", {"username": user.username, "password": "wrong"}
        )
    # Straight to the server, not from the proxy: the header is ignored.
    for n in range(settings.AXES_FAILURE_LIMIT + 2):
        _through_proxy(f"192.0.2.{n}", remote="198.51.100.50").post(
            "/login/", {"username": user.username, "password": "wrong"}
        )
    for client in (
        _through_proxy("192.0.2.200, 203.0.113.9"),
        _through_proxy("192.0.2.201", remote="198.51.100.50"),
    ):
        response = client.post(
            "/login/", {"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 429


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(
    rf: Any, settings: Any
) -> None:
    from project.lockout import client_ip

    settings.TRUSTED_PROXIES = []
    request = rf.post("/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == PROXY


def test_the_client_address_is_the_nearest_hop_no_trusted_proxy_wrote(
    rf: Any, settings: Any
) -> None:
    from project.lockout import client_ip

    settings.TRUSTED_PROXIES = [f"{PROXY}/32", "10.1.0.0/16"]

    def seen(forwarded: str, remote: str = PROXY) -> str | None:
        request = rf.post("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
        return client_ip(request)

    assert seen("203.0.113.9") == "203.0.113.9"
    assert seen("192.0.2.1, 203.0.113.9, 10.1.2.3") == "203.0.113.9"
    assert seen("203.0.113.9:51234") == "203.0.113.9"
    assert seen("[2001:db8::7]:443") == "2001:db8::7"
    assert seen("::ffff:203.0.113.9") == "203.0.113.9"
    assert seen("10.1.2.3") == "10.1.2.3"  # only proxies: the first is the client
    assert seen("not-an-address") == PROXY
    assert seen("") == PROXY
    assert seen("203.0.113.9", remote="10.2.0.1") == "10.2.0.1"


def test_a_tls_proxy_trusts_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    script = "from django.conf import settings; print(settings.TRUSTED_PROXIES)"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CAIRN_", "PYTEST"))
    }
    env.update(
        {
            "DATABASE_URL": "postgresql://cairn@localhost/none",
            "CELERY_BROKER_URL": "memory://",
            "CAIRN_VAR_DIR": str(tmp_path),
            "CAIRN_SKIP_DOTENV": "1",
            "DJANGO_SETTINGS_MODULE": "project.settings",
        }
    )

    def trusted(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {script}"],
            cwd=BASE_DIR,
            env=env | extra,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert trusted().stdout.strip() == "[]"
    assert trusted(CAIRN_TLS_PROXY="1").stdout.strip() == (
        "['127.0.0.1/32', '::1/128']"
    )
    listed = trusted(CAIRN_TLS_PROXY="1", CAIRN_TRUSTED_PROXIES="10.0.0.5, 10.1.0.0/16")
    assert listed.stdout.strip() == "['10.0.0.5/32', '10.1.0.0/16']"
    wrong = trusted(CAIRN_TRUSTED_PROXIES="proxy.internal")
    assert wrong.returncode != 0
    assert "CAIRN_TRUSTED_PROXIES: 'proxy.internal'" in wrong.stderr


def test_pages_carry_a_content_security_policy(db: None) -> None:
    response = Client().get("/login/")

    policy = response["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "script-src" not in directives  # so default-src: no inline script
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_templates_have_no_inline_script_or_handler() -> None:
    offenders = []
    for template in (BASE_DIR / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for needle in ("<script>", "onclick=", "onchange=", "onsubmit=", "style="):
            if needle in text:
                offenders.append(f"{template.relative_to(BASE_DIR)}: {needle}")
    assert offenders == []


# The production environment the README's checklist documents.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "cairn.example.com",
    "CAIRN_HTTPS": "1",
    "CAIRN_TLS_PROXY": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def _check_deploy(tmp_path: Path, extra: dict[str, str]) -> Any:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECURE_", "CAIRN_", "PYTEST"))
    }
    env.update(
        {
            "SECRET_KEY": get_random_secret_key(),
            "DATABASE_URL": "postgresql://cairn@localhost/none",
            "CELERY_BROKER_URL": "memory://",
            "CAIRN_VAR_DIR": str(tmp_path),
            "CAIRN_SKIP_DOTENV": "1",
            "DJANGO_SETTINGS_MODULE": "project.settings",
            **extra,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_env(
    tmp_path: Path,
) -> None:
    result = _check_deploy(tmp_path, PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_plain_http(tmp_path: Path) -> None:
    result = _check_deploy(tmp_path, {**PRODUCTION_ENV, "CAIRN_HTTPS": "0"})

    assert result.returncode != 0
    for check in ("security.W012", "security.W016", "security.W008"):
        assert check in result.stderr


def test_the_readme_checklist_names_every_production_variable() -> None:
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    for name, value in PRODUCTION_ENV.items():
        assert f"{name}={value}" in readme, name
