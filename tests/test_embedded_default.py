"""With no configuration: SQLite, a filesystem broker and a real worker process."""

import os
import subprocess
import sys
import time

from tests.processes import ROOT, stop_process_group


def _env(tmp_path, emails, sandbox_socket):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "TEST_DATABASE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        VAR_DIR=str(tmp_path / "var"),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(emails),
        SANDBOX_SOCKET=sandbox_socket,
    )
    return env


def _manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def test_worker_on_embedded_broker_sends_invitation_email(tmp_path, sandbox_socket):
    emails = tmp_path / "emails"
    env = _env(tmp_path, emails, sandbox_socket)
    _manage(env, "migrate", "--noinput")
    _manage(env, "createcachetable")
    _manage(env, "load_demo")
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "-Q", "default,grading",
         "--concurrency", "1", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        _manage(
            env, "shell", "-c",
            "from accounts.models import *; from accounts.services import member_invite;"
            "org = Organization.objects.get(slug='demo');"
            "owner = User.objects.get(email='owner@demo.example');"
            "member_invite(organization=org, email='new@demo.example', role='author',"
            " invited_by=owner)",
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if emails.exists() and any(
                "new@demo.example" in p.read_text() for p in emails.iterdir()
            ):
                break
            time.sleep(0.5)
        else:
            raise AssertionError((tmp_path / "worker.log").read_text()[-4000:])
        health = _manage(
            env, "shell", "-c",
            "from django.test import Client;"
            "r = Client().get('/healthz', HTTP_HOST='127.0.0.1');"
            "print(r.status_code, r.content.decode())",
        )  # fmt: skip
        assert "200 {" in health.stdout, health.stdout
        assert (
            '"vendor": "sqlite"' in health.stdout and '"transport": "filesystem"' in health.stdout
        )
    finally:
        stop_process_group(worker, timeout=30)
