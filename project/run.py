"""`make run`, and each tier of Cairn on its own: `python -m project.run --role ROLE`.

`--role all` (the default, what `make run` does) starts the embedded services,
migrates, then runs a Celery worker, Celery beat and the web server under a
supervisor that restarts whatever dies (project/supervisor.py). Ctrl-C or
SIGTERM stops every process it started; a second run reuses ./var/.

Any other role replaces this process with that tier's server (`exec`), so
systemd, Compose or Kubernetes supervise it directly and its signals reach it:
`web` (gunicorn), `worker` (every queue), `worker-cpu` (extraction),
`worker-io` (upload, embedding, storage), `beat` (the periodic tasks: run
exactly one per deployment). Those roles start no embedded service and run no
migrations: point them at DATABASE_URL and CELERY_BROKER_URL, and run
`python manage.py migrate` once per release.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from project import queues

BASE_DIR = Path(__file__).resolve().parent.parent
ROLES = ("all", "web", "worker", "worker-cpu", "worker-io", "beat")
_WORKER_QUEUES = {
    "worker": queues.ALL_QUEUES,
    # Both take the default queue (periodic sweeps, refreshes): whichever is free.
    "worker-cpu": f"{queues.CPU_QUEUE},{queues.DEFAULT_QUEUE}",
    "worker-io": f"{queues.IO_QUEUE},{queues.DEFAULT_QUEUE}",
}

log = logging.getLogger("cairn.supervisor")

GUNICORN_JSON_LOGGING = BASE_DIR / "project" / "gunicorn-logging.json"


def metrics_dir(env: Mapping[str, str]) -> Path:
    """METRICS_DIR as project/settings.py reads it (roles start without Django)."""
    if env.get("METRICS_DIR"):
        return Path(env["METRICS_DIR"]).resolve()
    return (Path(env.get("CAIRN_VAR_DIR") or BASE_DIR / "var") / "metrics").resolve()


def fresh_metrics_dir(path: Path, pattern: str = "*.db") -> Path:
    """Delete a folder's multiprocess metric files (only those) and return it.

    Files are named by process id: a new run must not add to the counters of
    a previous run's process that had the same id. The files of a process that
    dies during this run stay: its counters are part of the totals, and Cairn
    keeps no per-process gauge that prometheus_client's mark_process_dead
    would have to drop (states are read from the database at each scrape).
    """
    path.mkdir(parents=True, exist_ok=True)
    for found in path.glob(pattern):
        found.unlink(missing_ok=True)
    return path


def role_command(role: str, env: Mapping[str, str]) -> list[str]:
    """The command line of one tier, configured from the environment."""
    python = sys.executable
    if role == "web":
        host = env.get("HOST", "127.0.0.1")
        # ASGI for MCP's /mcp; Django runs in a thread pool (project/asgi.py).
        # JSON logs: gunicorn's own lines as JSON, and its access log left to
        # project.logs.RequestIdMiddleware (one JSON line with the request id).
        logging_args = (
            ["--log-config-json", str(GUNICORN_JSON_LOGGING)]
            if env.get("LOG_FORMAT", "").strip().lower() == "json"
            else ["--access-logfile", "-"]
        )
        return [
            python, "-m", "gunicorn", "project.asgi:application",
            "--bind", f"{host}:{env.get('PORT', '8000')}",
            "--worker-class", "asgi", "--asgi-lifespan", "on",
            "--workers", env.get("WEB_CONCURRENCY", "2"),
            "--timeout", "180", *logging_args,
            # Its default path is one per user (~/.gunicorn), shared by every
            # gunicorn of that user; GUNICORN_CMD_ARGS can set one.
            "--no-control-socket",
        ]  # fmt: skip
    if role == "beat":
        # The schedule file is CELERY_BEAT_SCHEDULE_FILENAME (under the var dir).
        return [python, "-m", "celery", "-A", "project", "beat", "--loglevel", "INFO"]
    if role in _WORKER_QUEUES:
        return [
            python, "-m", "celery", "-A", "project", "worker",
            "--loglevel", "INFO",
            "--concurrency", env.get("WORKER_CONCURRENCY", "2"),
            "--queues", _WORKER_QUEUES[role],
            "--hostname", f"{role}@%h",
            # Gossip and mingle only chat between workers; gossip is also what
            # failed to reconnect after a broker restart.
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
    raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


class _Stopping:
    """Set by SIGINT/SIGTERM; the main loop polls it, so cleanup runs in order."""

    def __init__(self) -> None:
        self.reason = ""

    def __call__(self, signum: int, frame: FrameType | None = None) -> None:
        self.reason = signal.Signals(signum).name

    def requested(self) -> bool:
        return bool(self.reason)


def child_environment(settings: Any) -> dict[str, str]:
    """The environment of the supervised tiers.

    They get the embedded servers' URLs spelled out, so they connect to the
    PostgreSQL this process supervises instead of joining pgserver's handles
    (a worker killed by SIGKILL would otherwise stay on that list for ever).
    """
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "project.settings"
    env["CAIRN_VAR_DIR"] = str(settings.VAR_DIR)
    env["DATABASE_URL"] = settings.DATABASE_URL
    env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    # Every tier's counters in one folder; the web tier's /metrics adds them up.
    env["PROMETHEUS_MULTIPROC_DIR"] = str(Path(settings.METRICS_DIR) / "all")
    return env


def run_all(stopping: _Stopping) -> int:
    """Start everything, restart what dies, stop everything on a signal."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    # Django and the supervisor load only now: importing settings starts the
    # embedded PostgreSQL, which must wait for the signal handlers and role.
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from project import embedded
    from project.supervisor import (
        ChildProcess,
        EmbeddedPostgres,
        EmbeddedRedis,
        Service,
        Supervisor,
    )

    django.setup()  # starts (or joins) the embedded PostgreSQL
    var_dir = Path(settings.VAR_DIR)
    services: list[Service] = []
    if settings.EMBEDDED_DATABASE:
        services.append(EmbeddedPostgres(var_dir / "pg"))
    if settings.EMBEDDED_BROKER:
        argv = embedded.redis_command(var_dir, daemonize=False)
        services.append(EmbeddedRedis(name="redis", argv=argv, var_dir=var_dir))
    env = child_environment(settings)
    # This run owns the whole folder: earlier runs' tiers are gone.
    fresh_metrics_dir(Path(settings.METRICS_DIR), "**/*.db")
    fresh_metrics_dir(Path(env["PROMETHEUS_MULTIPROC_DIR"]))
    tiers = [
        ChildProcess(name=role, argv=role_command(role, env), env=env, cwd=BASE_DIR)
        for role in ("worker", "beat", "web")
    ]
    supervisor = Supervisor([*services, *tiers])
    try:
        for service in services:
            supervisor.start_one(service)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("check")  # online: refuses a retired or unknown CLAUDE_MODEL
        call_command("ensure_admin")
        connections.close_all()  # this process serves nothing from here on
        for tier in tiers:
            if stopping.requested():
                break
            supervisor.start_one(tier)
        _banner(settings, env)
        supervisor.run(stopping.requested)
        print(f"\nStopping Cairn ({stopping.reason}).", flush=True)
        return 0
    except Exception:
        log.exception("Cairn could not start")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop_all(together=tiers)


def _banner(settings: Any, env: Mapping[str, str]) -> None:
    mode = "Claude" if settings.ANTHROPIC_API_KEY else "offline answers"
    embed = "Voyage" if settings.VOYAGE_API_KEY else "offline embeddings"
    host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
    print(
        f"\nCairn is running on http://{host}:{port}/ ({mode}, {embed}).\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one role (exec) or everything under the supervisor."""
    parser = argparse.ArgumentParser(prog="python -m project.run")
    parser.add_argument("--role", choices=ROLES, default="all")
    role = parser.parse_args(argv).role
    if role != "all":
        command = role_command(role, os.environ)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # A folder per tier and host: tiers sharing METRICS_DIR (one
            # machine, or containers on one volume) never clean each other's.
            own = metrics_dir(os.environ) / f"{role}-{socket.gethostname()}"
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_metrics_dir(own))
        os.chdir(BASE_DIR)
        os.execv(command[0], command)
    stopping = _Stopping()
    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    return run_all(stopping)


if __name__ == "__main__":
    code = main()
    # Everything this process started has stopped (pgserver's handle included);
    # the interpreter's teardown of the thousands of modules Django and the
    # SDKs load only adds seconds to every Ctrl-C.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
