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


CANDIDATE_AND_API_FLOW = """
import uuid
from django.test import Client
from accounts.api_keys import api_key_create
from accounts.models import Organization, User
from accounts.tenancy import tenant_context
from assessments.models import Invitation, PublishedChallenge
org = Organization.objects.get(slug='demo')
invitation = Invitation.all_tenants.get(email='candidate@demo.example', status='invited')
base = '/t/' + invitation.token
client = Client(HTTP_HOST='127.0.0.1')
other = Client(HTTP_HOST='127.0.0.1', REMOTE_ADDR='10.1.2.3', HTTP_USER_AGENT='Other/1.0')
assert client.post(base + '/start/').status_code == 302
import time
from assessments.models import QuestionState
for c in PublishedChallenge.all_tenants.filter(version=invitation.version).order_by('position'):
    # A variable question opens once the worker has prepared this candidate's variant.
    for _ in range(300):
        if client.get(base + '/q/%d/' % c.position).status_code != 503:
            break
        time.sleep(0.2)
    assert client.get(base + '/q/%d/' % c.position).status_code == 200
    state = QuestionState.all_tenants.get(invitation=invitation, position=c.position)
    right = (next(o['id'] for o in state.variant['options'] if o['correct'])
             if state.variant else c.key['correct'][0])
    assert other.get(base + '/q/%d/' % c.position).status_code == 200
    if c.hint:
        assert client.post(base + '/q/%d/hint/' % c.position).status_code == 302
    r = client.post(base + '/q/%d/answer/' % c.position,
                    {'answer': right, 'submission_id': str(uuid.uuid4())})
    assert r.status_code == 302, r.content[:300]
assert client.get(base + '/results/').status_code == 200
key = api_key_create(organization=org, name='embedded', actor=None)[1]
api = Client(HTTP_HOST='127.0.0.1', HTTP_AUTHORIZATION='Bearer ' + key)
result = api.get('/api/v1/invitations/%s/result/' % invitation.public_id).json()
owner = Client(HTTP_HOST='127.0.0.1')
owner.force_login(User.objects.get(email='owner@demo.example'))
csv = owner.get('/admin/assessments/invitation/export.csv').content.decode()
assert 'candidate@demo.example' in csv
kinds = {s['kind'] for s in result['integrity_signals']}
assert {'ip_changed', 'user_agent_changed', 'hint'} <= kinds, kinds
print('FLOW OK', result['status'], result['score'], result['percent'],
      'badge' if result['badge_awarded'] else 'no badge')
"""


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
        # The candidate side and the API on SQLite: the demo candidate takes the test (from
        # a second address and browser too), an HR key reads the result and the CSV export.
        flow = _manage(env, "shell", "-c", CANDIDATE_AND_API_FLOW)
        assert "FLOW OK completed 5.0 100.0 badge" in flow.stdout, flow.stdout + flow.stderr
    finally:
        stop_process_group(worker, timeout=30)
