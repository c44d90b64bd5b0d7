"""Run project processes (manage.py, a Celery worker) against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)


def test_process_env(**extra: str) -> dict[str, str]:
    """Return an environment in which a child process uses the test database and Redis."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "TEST_DATABASE_URL": url}
    env.update(extra)
    return env


def stop_process_group(process: subprocess.Popen | None, timeout: float = 15) -> None:
    """Stop a child started in its own session, with all of its children; kill if it hangs."""
    import signal

    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``manage.py`` with ``args`` in a child process and return what it did."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=test_process_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class WorkerProcess:
    """A real Celery worker (``celery -A config worker``) on the test database and Redis."""

    def __init__(
        self, *, queues: str = "default,grading", concurrency: int = 2, beat: bool = False,
        name: str = "test", **env: str,
    ):  # fmt: skip
        self.args = [
            str(Path(sys.executable).with_name("celery")), "-A", "config", "worker",
            "-Q", queues, "--concurrency", str(concurrency), "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "-n", f"{name}-{os.getpid()}@%h",
        ]  # fmt: skip
        if beat:
            schedule = Path(tempfile.gettempdir()) / f"celerybeat-{name}-{os.getpid()}"
            self.args += ["--beat", "--schedule", str(schedule)]
        self.env = test_process_env(**env)
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def start(self, log_path: Path) -> WorkerProcess:
        self.log_path = log_path
        log = log_path.open("wb")
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until the worker logs that it is ready to take tasks."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            if b" ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:] if self.log_path else ""

    def stop(self) -> None:
        stop_process_group(self.process)


class SandboxProcess:
    """The real sandbox server, started as ``make run`` starts it (empty environment)."""

    def __init__(self, directory: Path, *, prefork: int = 2):
        self.directory = directory
        self.socket = directory / "sandbox.sock"
        self.log_path = directory / "sandbox.log"
        self.args = [
            str(ROOT / ".venv-sandbox/bin/python"), "-m", "grading.sandbox.server",
            "--socket", str(self.socket), "--scratch-root", str(directory / "scratch"),
            "--prefork", str(prefork),
            # Its own uid range, apart from `make run`'s (200000) and the sandbox tests';
            # TEST_SANDBOX_UID_SHIFT moves it for a concurrent run on the same machine.
            "--uid-base", str(210000 + int(os.environ.get("TEST_SANDBOX_UID_SHIFT", "0"))),
        ]  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> SandboxProcess:
        import time

        from grading.sandbox.client import SandboxClient, SandboxUnavailable

        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env={"PATH": "/usr/bin:/bin"}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                SandboxClient(str(self.socket), timeout=5).ping()
                return self
            except SandboxUnavailable:
                time.sleep(0.2)
        raise TimeoutError(f"sandbox not up after {timeout}s:\n{self.log_path.read_text()[-4000:]}")

    def stop(self) -> None:
        stop_process_group(self.process)


class RedisServer:
    """A Redis of the test's own on a free port, which the test may stop and restart."""

    def __init__(self, directory: Path):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        import time

        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        """Stop it hard: every queued message is gone, as after a crash without persistence."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
