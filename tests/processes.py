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
        cwd=ROOT, env=test_process_env(**env), capture_output=True, text=True, timeout=120,
        check=False,
    )
