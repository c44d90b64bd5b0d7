"""Run project processes (manage.py, a Celery worker) against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
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

    def __init__(self, *, queues: str = "default,grading", concurrency: int = 2, **env: str):
        self.args = [
            str(Path(sys.executable).with_name("celery")), "-A", "config", "worker",
            "-Q", queues, "--concurrency", str(concurrency), "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}@%h",
        ]  # fmt: skip
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
        import signal

        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
