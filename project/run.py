"""`make run`: the embedded services, migrations, a Celery worker and the web server.

Ctrl-C or SIGTERM stops every process started here; a second run reuses ./var/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

BASE_DIR = Path(__file__).resolve().parent.parent


class _Stop(Exception):
    """Raised by the signal handler so cleanup runs on the normal path."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _terminate(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    """Start everything, wait for a signal or a crash, stop everything."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    from project import embedded

    var_dir = Path(os.environ.get("CAIRN_VAR_DIR") or BASE_DIR / "var").resolve()
    started_redis = False
    processes: list[subprocess.Popen[bytes]] = []
    try:
        if not os.environ.get("CELERY_BROKER_URL"):
            started_redis = embedded.start_redis(var_dir)
        import django
        from django.conf import settings
        from django.core.management import call_command

        django.setup()  # starts (or joins) the embedded PostgreSQL
        call_command("migrate", interactive=False, verbosity=0)
        call_command("check")  # online: refuses a retired or unknown CLAUDE_MODEL
        call_command("ensure_admin")
        port = os.environ.get("PORT", "8000")
        host = os.environ.get("HOST", "127.0.0.1")
        python = sys.executable
        worker = [
            python, "-m", "celery", "-A", "project", "worker", "--beat",
            "--loglevel", "INFO",
            "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"),
            "--queues", settings.CELERY_QUEUES_ALL,
            "--schedule", str(var_dir / "celerybeat-schedule"),
        ]  # fmt: skip
        web = [
            python, "-m", "gunicorn", "project.wsgi:application",
            "--bind", f"{host}:{port}", "--worker-class", "gthread",
            "--workers", os.environ.get("WEB_CONCURRENCY", "2"), "--threads", "8",
            "--timeout", "180", "--access-logfile", "-",
        ]  # fmt: skip
        processes.append(subprocess.Popen(worker, cwd=BASE_DIR))
        processes.append(subprocess.Popen(web, cwd=BASE_DIR))
        mode = "Claude" if settings.ANTHROPIC_API_KEY else "offline answers"
        embed = "Voyage" if settings.VOYAGE_API_KEY else "offline embeddings"
        print(
            f"\nCairn is running on http://{host}:{port}/ ({mode}, {embed}).\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            for process in processes:
                if process.poll() is not None:
                    print(f"a Cairn process exited ({process.args!r}); stopping.")
                    return 1
            time.sleep(0.5)
    except _Stop as stop:
        print(f"\nStopping Cairn ({stop}).", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _terminate(processes)
        if started_redis:
            embedded.stop_redis(var_dir)


if __name__ == "__main__":
    sys.exit(main())
