"""Real Celery workers, beats and Redis servers for the end-to-end and fault tests.

Each process runs in a session of its own, so that stopping or killing it reaches its pool
children too, and writes to a log file that a failing wait prints. The test database is
reached through DATABASE_URL, so the data a test wants them to see must be committed
(django_db(transaction=True, ...)).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

from handoff.celery import app as celery_app

STARTUP_SECONDS = 60
STOP_SECONDS = 20
WORKER_READY = "ready."
BEAT_READY = "beat: Starting..."
SWEEP_LOG_LINE = "sla sweep done"


def database_url() -> str:
    """The test database as a URL, for processes that read DATABASE_URL."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return (
        f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{quote(db['NAME'], safe='')}"
    )


def redis_url(*, db: int) -> str:
    """The configured Redis server, with a database of the test's own."""
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{db}"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    condition: Callable[[], bool], *, seconds: float, what: str, logs: list[Path]
) -> float:
    """Poll until the condition holds; returns the seconds it took. Fails with the tail of
    every log when it does not hold in time."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}\n{tails}")


class Processes:
    """Named subprocesses with their logs; `stop_all` belongs in a finalizer."""

    def __init__(self, *, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.running: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.ready_lines: dict[str, str] = {}

    def start(self, name: str, command: list[str], *, ready: str = "") -> Path:
        """Start a process; `ready` is the log line that says it has started."""
        log_path = self.folder / f"{name}.log"
        self.logs[name] = log_path
        self.ready_lines[name] = ready
        with log_path.open("ab") as log:
            self.running[name] = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return log_path

    def log(self, name: str) -> str:
        return self.logs[name].read_text()

    def kill(self, name: str) -> None:
        """SIGKILL the process and its children, as an out-of-memory killer or a lost
        machine would: nothing gets to clean up."""
        process = self.running.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_SECONDS)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def celery_env(*, broker_url: str, folder: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker or beat: production settings on the test database, the
    given broker, the SLA sweep every second and email written to files."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handoff.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": database_url(),
        "REDIS_URL": broker_url,
        "HANDOFF_SLA_SWEEP_SECONDS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(folder / "mail"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


CELERY = [sys.executable, "-m", "celery", "-A", "handoff"]


def start_worker(processes: Processes, name: str, *, concurrency: int = 1) -> Path:
    pool = "--pool=solo" if concurrency == 1 else "--pool=prefork"
    return processes.start(
        name,
        [
            *CELERY,
            "worker",
            pool,
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={name}-{os.getpid()}@%h",
        ],
        ready=WORKER_READY,
    )


def start_beat(processes: Processes, name: str) -> Path:
    schedule = processes.folder / f"{name}-schedule"
    return processes.start(
        name, [*CELERY, "beat", "--loglevel=INFO", f"--schedule={schedule}"], ready=BEAT_READY
    )


def wait_until_ready(processes: Processes, *names: str) -> None:
    def ready() -> bool:
        return all(processes.ready_lines[name] in processes.log(name) for name in names)

    wait_for(
        ready,
        seconds=STARTUP_SECONDS,
        what=f"{', '.join(names)} to start",
        logs=list(processes.logs.values()),
    )


def start_redis_server(processes: Processes, name: str, *, port: int) -> redis.Redis:
    """A private Redis on its own port, kept in memory only, that a test may kill."""
    processes.start(
        name,
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    wait_for(answers, seconds=STARTUP_SECONDS, what=f"{name} on port {port}", logs=[])
    return client


@contextmanager
def tasks_sent_to(broker_url: str) -> Iterator[None]:
    """This process's tasks go to `broker_url` instead of running inline, as the web's do."""
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url")}
    celery_app.conf.update(task_always_eager=False, broker_url=broker_url)
    _forget_broker_connections()
    try:
        yield
    finally:
        celery_app.conf.update(saved)
        _forget_broker_connections()


def _forget_broker_connections() -> None:
    # Celery builds its connection pool, and the producer pool on top of it, once, from the
    # broker URL of that moment. app.close() drops only the first, and it also unregisters
    # the app, so that a task module imported afterwards never joins it.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
