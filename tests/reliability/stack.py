"""`python -m project.run` on a var directory of its own, driven from a test.

It talks only to loopback and unix sockets, and stop() ends every process the
run started (the supervisor's whole session, and the postmaster by its PID).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll predicate until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Stack:
    """A supervised Cairn: embedded PostgreSQL and Redis, worker, beat, web."""

    def __init__(self, var_dir: Path, env: dict[str, str]) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "PYTEST_CURRENT_TEST"}
        } | {
            "CAIRN_VAR_DIR": str(var_dir),
            "CAIRN_SKIP_DOTENV": "1",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "1",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.log_path = var_dir.parent / "run.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.seen: set[int] = set()
        self.token = ""

    # Processes --------------------------------------------------------------

    def start(self, timeout: float = 180) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "project.run"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self.healthy, timeout, "the stack to answer /healthz")
        self.note_processes()

    def healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"project.run exited; see {self.log_path}")
        try:
            response = httpx.get(f"{self.base_url}/healthz", timeout=5)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json()["workers"] > 0

    def note_processes(self) -> None:
        """Remember every process of the run, to check none outlives it."""
        assert self.process is not None
        try:
            family = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        self.seen.update(child.pid for child in family)
        postmaster = self.postmaster_pid()
        if postmaster:
            self.seen.add(postmaster)

    def child(self, marker: str) -> psutil.Process:
        """The supervisor's direct child whose command line contains marker."""
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children():
            try:
                if marker in " ".join(child.cmdline()):
                    return child
            except psutil.Error:
                continue  # a zombie the supervisor has not reaped yet
        raise AssertionError(f"no {marker!r} process under the supervisor")

    def postmaster_pid(self) -> int | None:
        try:
            pid_file = self.var_dir / "pg" / "postmaster.pid"
            return int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 60) -> float:
        """SIGTERM the supervisor as systemd or Ctrl-C would; seconds it took."""
        assert self.process is not None
        self.note_processes()
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        finally:
            self.kill_leftovers()
        return time.monotonic() - started

    def leftovers(self) -> list[psutil.Process]:
        alive = []
        for pid in self.seen:
            try:
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except psutil.NoSuchProcess:
                pass
        return alive

    def kill_leftovers(self) -> None:
        """The test's own safety net: nothing of this run may survive the test."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for process in self.leftovers():
            process.kill()

    # Database and API -----------------------------------------------------

    def database_url(self) -> str:
        return f"postgresql://postgres:@/postgres?host={self.var_dir / 'pg'}"

    def query(self, sql: str) -> list[tuple[Any, ...]] | None:
        """Rows of a query on the run's database, or None while it is down."""
        try:
            with psycopg.connect(self.database_url(), connect_timeout=3) as conn:
                return conn.execute(sql).fetchall()
        except psycopg.Error:
            return None

    def create_token(self) -> None:
        env = self.env | {"DATABASE_URL": self.database_url()}
        out = subprocess.run(
            [sys.executable, "manage.py", "create_api_token", "admin"],
            cwd=BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        self.token = out.strip().splitlines()[-1]

    def upload(self, name: str, body: bytes) -> str:
        response = httpx.post(
            f"{self.base_url}/api/v1/documents",
            headers={"Authorization": f"Bearer {self.token}"},
            files={"file": (name, body, "text/markdown")},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])
