"""The supervisor restarts what dies, with backoff, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from project import embedded
from project.run import role_command
from project.supervisor import Backoff, ChildProcess, Service, Supervisor


class FakeService(Service):
    def __init__(self, name: str, log: list[str], *, fail_starts: int = 0) -> None:
        self.name = name
        self.log = log
        self.alive = False
        self.fail_starts = fail_starts

    def start(self) -> None:
        if self.fail_starts:
            self.fail_starts -= 1
            self.log.append(f"start-failed {self.name}")
            raise RuntimeError("not yet")
        self.alive = True
        self.log.append(f"start {self.name}")

    def running(self) -> bool:
        return self.alive

    def stop(self) -> None:
        self.alive = False
        self.log.append(f"stop {self.name}")

    def after_exit(self) -> None:
        self.log.append(f"cleanup {self.name}")

    def request_stop(self) -> None:
        self.log.append(f"ask {self.name}")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_up_to_a_ceiling() -> None:
    backoff = Backoff(first=1, most=8, reset_after=60)
    assert [backoff.next_delay(uptime=2) for _ in range(6)] == [1, 2, 4, 8, 8, 8]


def test_backoff_resets_after_a_long_enough_run() -> None:
    backoff = Backoff(first=1, most=30, reset_after=60)
    backoff.next_delay(uptime=1)
    backoff.next_delay(uptime=1)
    assert backoff.next_delay(uptime=1) == 4
    assert backoff.next_delay(uptime=61) == 1


def test_it_restarts_a_dead_service_after_the_backoff_delay() -> None:
    log: list[str] = []
    clock = Clock()
    db, worker = FakeService("db", log), FakeService("worker", log)
    supervisor = Supervisor([db, worker], clock=clock)
    supervisor.start_all()
    clock.now += 5
    worker.alive = False
    supervisor.check()
    assert log[-1] == "cleanup worker", "a dead service's leftovers go first"
    assert not worker.alive
    clock.now += 0.9
    supervisor.check()
    assert not worker.alive, "not before the delay"
    clock.now += 0.2
    supervisor.check()
    assert worker.alive
    assert db.alive
    assert supervisor.restarts() == {"db": 0, "worker": 1}


def test_a_service_that_keeps_failing_to_start_is_retried_with_growing_delays() -> None:
    log: list[str] = []
    clock = Clock()
    redis = FakeService("redis", log)
    supervisor = Supervisor([redis], clock=clock)
    supervisor.start_all()
    redis.alive = False
    redis.fail_starts = 2
    tries = []
    for _ in range(400):
        clock.now += 0.1
        before = len(log)
        supervisor.check()
        if len(log) > before and log[-1].startswith("start"):
            tries.append(round(clock.now - 1000, 1))
        if redis.alive:
            break
    # Seen dead at 0.1 s: tried 1 s later (failed), 2 s later (failed), 4 s later.
    assert tries == [1.1, 3.1, 7.1]
    assert redis.alive


def test_stop_all_stops_in_reverse_order_and_only_what_started() -> None:
    log: list[str] = []
    services = [FakeService(name, log) for name in ("db", "broker", "web")]
    supervisor = Supervisor(services)
    supervisor.start_one(services[0])
    supervisor.start_one(services[1])
    supervisor.stop_all()
    assert log == ["start db", "start broker", "stop broker", "stop db"]


def test_tiers_are_asked_to_stop_together_before_anything_waits() -> None:
    log: list[str] = []
    db, worker, web = (FakeService(name, log) for name in ("db", "worker", "web"))
    supervisor = Supervisor([db, worker, web])
    supervisor.start_all()
    log.clear()
    supervisor.stop_all(together=[worker, web])
    assert log == ["ask worker", "ask web", "stop web", "stop worker", "stop db"]


def test_a_service_not_yet_started_is_not_restarted() -> None:
    log: list[str] = []
    supervisor = Supervisor([FakeService("web", log)])
    supervisor.check()
    assert log == []


# Real processes: a parent that forks a child, as a Celery worker forks its pool.
FAMILY = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN) if "stubborn" in sys.argv else None
if os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN) if "stubborn" in sys.argv else None
    open(sys.argv[1], "w").write(str(os.getpid()))
    time.sleep(60)
else:
    time.sleep(60)
"""


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _family(tmp_path: Path, *args: str) -> tuple[ChildProcess, int]:
    pid_file = tmp_path / "child.pid"
    child = ChildProcess(
        name="family",
        argv=[sys.executable, "-c", FAMILY, str(pid_file), *args],
        stop_timeout=1.0,
    )
    child.start()
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the grandchild never started"
        time.sleep(0.02)
    return child, int(pid_file.read_text())


def test_a_killed_main_process_takes_its_children_along(tmp_path: Path) -> None:
    child, grandchild = _family(tmp_path)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.process.wait(timeout=5)  # type: ignore[union-attr]
    assert not child.running()
    assert child.exit_reason() == "was killed by SIGKILL"
    assert _pid_alive(grandchild), "orphaned, as a worker's pool is"
    child.after_exit()
    assert not _pid_alive(grandchild)


def test_stop_kills_a_process_group_that_ignores_sigterm(tmp_path: Path) -> None:
    child, grandchild = _family(tmp_path, "stubborn")
    child.stop()
    assert not child.running()
    assert not _pid_alive(grandchild)


def test_a_child_does_not_get_the_terminals_ctrl_c(tmp_path: Path) -> None:
    child, _ = _family(tmp_path)
    try:
        assert child.pid is not None
        assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    finally:
        child.stop()


def _redis(var_dir: Path) -> subprocess.Popen[bytes]:
    """The embedded broker as make run starts it: a foreground child."""
    process = subprocess.Popen(embedded.redis_command(var_dir, daemonize=False))
    embedded.wait_for_redis(var_dir)
    return process


def test_queued_tasks_survive_a_killed_embedded_redis(tmp_path: Path) -> None:
    import redis

    var_dir = tmp_path / "var"
    var_dir.mkdir()
    process = _redis(var_dir)
    try:
        client = redis.Redis(unix_socket_path=str(embedded.redis_socket(var_dir)))
        client.lpush("ingest_cpu", b"task one", b"task two")
        client.hset("unacked", "tag-1", b"taken by a worker")
        time.sleep(1.5)  # appendfsync everysec
        process.kill()
        process.wait(timeout=10)
        process = _redis(var_dir)
        client = redis.Redis(unix_socket_path=str(embedded.redis_socket(var_dir)))
        assert client.lrange("ingest_cpu", 0, -1) == [b"task two", b"task one"]
        assert client.hget("unacked", "tag-1") == b"taken by a worker"
    finally:
        process.kill()
        process.wait(timeout=10)
    assert (var_dir / "appendonly.aof").stat().st_size > 0


def test_the_tests_scratch_broker_keeps_no_append_only_file(tmp_path: Path) -> None:
    command = embedded.redis_command(tmp_path, daemonize=True, appendonly=False)
    assert command[command.index("--appendonly") + 1] == "no"
    supervised = embedded.redis_command(tmp_path, daemonize=False)
    assert supervised[supervised.index("--appendonly") + 1] == "yes"
    assert supervised[supervised.index("--appendfsync") + 1] == "everysec"


def test_dead_pgserver_handles_are_forgotten(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    handles = tmp_path / ".handle_pids.json"
    handles.write_text(json.dumps([dead.pid, os.getpid()]))
    assert embedded.forget_dead_handles(tmp_path) == [os.getpid()]
    assert json.loads(handles.read_text()) == [os.getpid()]


def test_roles_name_their_queues_and_one_beat() -> None:
    def queues(role: str) -> str:
        argv = role_command(role, {})
        return argv[argv.index("--queues") + 1]

    assert queues("worker") == "celery,ingest_cpu,ingest_io"
    assert queues("worker-cpu") == "ingest_cpu,celery"
    assert queues("worker-io") == "ingest_io,celery"
    beat = role_command("beat", {})
    assert beat[beat.index("project") + 1] == "beat"
    web = role_command("web", {"PORT": "9001", "HOST": "0.0.0.0"})
    assert web[web.index("--bind") + 1] == "0.0.0.0:9001"
    with pytest.raises(ValueError, match="unknown role"):
        role_command("scheduler", {})
