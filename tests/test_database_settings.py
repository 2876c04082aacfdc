"""DATABASE_POOLER and DATABASE_CONN_MAX_AGE shape the database connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import BASE_DIR

PRINT_DATABASE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "db = settings.DATABASES['default']; print(json.dumps({"
    "'cursors': db.get('DISABLE_SERVER_SIDE_CURSORS', False), "
    "'options': db.get('OPTIONS', {}), 'age': db['CONN_MAX_AGE']}))"
)


def _settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "CAIRN_SKIP_DOTENV": "1",
        "CAIRN_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": "postgresql://cairn:pw@db.internal:6432/cairn",
        "CELERY_BROKER_URL": "memory://",
        "DATABASE_POOLER": "",
    }
    return subprocess.run(
        [sys.executable, "-c", PRINT_DATABASE],
        cwd=BASE_DIR,
        env=full_env | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _database(tmp_path: Path, **env: str) -> Any:
    result = _settings(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_transaction_pooler_turns_off_session_features(tmp_path: Path) -> None:
    pooled = _database(tmp_path, DATABASE_POOLER="transaction")
    assert pooled["cursors"] is True
    assert pooled["options"] == {"prepare_threshold": None}
    direct = _database(tmp_path)
    assert direct["cursors"] is False
    assert "prepare_threshold" not in direct["options"]


def test_connection_age_comes_from_the_environment(tmp_path: Path) -> None:
    assert _database(tmp_path)["age"] == 60
    assert _database(tmp_path, DATABASE_CONN_MAX_AGE="0")["age"] == 0


def test_an_unknown_pooler_mode_is_refused(tmp_path: Path) -> None:
    result = _settings(tmp_path, DATABASE_POOLER="statement")
    assert result.returncode != 0
    assert "DATABASE_POOLER must be empty, session or transaction" in result.stderr
