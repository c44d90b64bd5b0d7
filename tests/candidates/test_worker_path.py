"""What the workers do for candidates: grade code answers, send links, close abandoned sessions."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.authoring.publishing import challenge_set_publish
from assessments.invitations.services import Candidate, invitations_create
from assessments.models import Answer, BadgeAward, Invitation, QuestionState
from assessments.tasks import sweep_sessions
from grading.jobs import grading_job_create, grading_job_run
from tests.accounts.test_invitation_email_worker import _sent_messages
from tests.candidates.conftest import invite, publish_set
from tests.factories import ChallengeFactory, ChallengeSetFactory
from tests.grading.test_code_answers import CONFIG, CORRECT, NO_EPS

pytestmark = pytest.mark.django_db(transaction=True)


def _code_set(organization):
    """A one-question set whose answer is a function, with its key computed in the sandbox."""
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(organization=organization)
        challenge = ChallengeFactory(
            challenge_set=challenge_set, kind="code", answer_format="code", max_attempts=2,
            code="def batch_norm(x):\n    ...\n", grading_config=CONFIG, time_limit=300,
        )  # fmt: skip
        job = grading_job_create(
            organization_id=organization.pk, purpose="reference", answer_format="code",
            payload={"config": CONFIG}, enqueue=False,
        )  # fmt: skip
        job = grading_job_run(job_id=job.pk)
        keys = {str(challenge.public_id): {"expected": job.result["expected"]}}
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None, keys=keys)
    return version


def _wait_graded(client, base, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"{base}/q/1/state/").json()
        if not state["pending"]:
            return state
        time.sleep(0.2)
    raise AssertionError("the answer was never graded")


def test_code_answers_are_pending_then_graded_by_the_worker(tenant_a, celery_worker):
    version = _code_set(tenant_a.organization)
    invitation = invite(version)
    client = Client()
    base = f"/t/{invitation.token}"
    client.post(f"{base}/start/")
    client.get(f"{base}/q/1/")
    response = client.post(f"{base}/q/1/answer/", {"answer": NO_EPS, "submission_id": uuid.uuid4()})
    assert response.status_code == 302
    page = client.get(f"{base}/q/1/").content.decode()
    assert "Grading your answer" in page or "Incorrect" in page
    # A second answer while the first is being graded is refused (and uses nothing).
    state = _wait_graded(client, base)
    assert state["last_answer"]["status"] == "graded", celery_worker.log()
    assert state["last_answer"]["correct"] is False
    assert state["attempts_left"] == 1 and not state["closed"]
    assert "2 of 3 tests passed. Hidden tests: 0 of 1." in state["last_answer"]["feedback"]
    shown = {t["name"]: t["passed"] for t in state["last_answer"]["details"]["tests"]}
    assert shown == {"small": True, "offset": True}  # the hidden test is not listed

    client.post(f"{base}/q/1/answer/", {"answer": CORRECT, "submission_id": uuid.uuid4()})
    state = _wait_graded(client, base)
    assert state["last_answer"]["correct"] is True and state["closed"]
    invitation.refresh_from_db()
    assert invitation.status == "completed" and invitation.score == 1
    with tenant_context(invitation.organization_id):
        answers = Answer.objects.filter(question__invitation=invitation).order_by("attempt")
        assert [(a.attempt, a.status, a.grading_job.status) for a in answers] == [
            (1, "graded", "done"),
            (2, "graded", "done"),
        ]
    assert BadgeAward.all_tenants.filter(invitation=invitation).exists()


def test_answer_while_grading_is_refused(tenant_a, celery_worker):
    version = _code_set(tenant_a.organization)
    invitation = invite(version)
    client = Client()
    base = f"/t/{invitation.token}"
    client.post(f"{base}/start/")
    client.get(f"{base}/q/1/")
    slow = "import time\ndef batch_norm(x):\n    time.sleep(1)\n    return x\n"
    client.post(f"{base}/q/1/answer/", {"answer": slow, "submission_id": uuid.uuid4()})
    second = client.post(
        f"{base}/q/1/answer/",
        {"answer": CORRECT, "submission_id": uuid.uuid4()},
        HTTP_ACCEPT="application/json",
    )
    assert second.status_code == 409 and "still being graded" in second.json()["error"]
    _wait_graded(client, base)
    with tenant_context(invitation.organization_id):
        assert QuestionState.objects.get(invitation=invitation).attempts_used == 1


def test_invitation_email_goes_through_the_worker(tenant_a, celery_worker, email_dir):
    version = publish_set(tenant_a.organization)
    with tenant_context(tenant_a.organization):
        (invitation,) = invitations_create(
            version=version,
            candidates=[Candidate(email="mailed@example.com", first_name="Mae")],
            actor=tenant_a.author,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = [body for to, body in _sent_messages(email_dir) if to == "mailed@example.com"]
        if sent:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"no email sent; worker log:\n{celery_worker.log()}")
    assert f"/t/{invitation.token}/" in sent[0] and "Hello Mae," in sent[0]
    for _ in range(50):
        invitation.refresh_from_db()
        if invitation.email_sent_at:
            break
        time.sleep(0.1)
    assert invitation.email_sent_at is not None


def test_sweeper_expires_links_and_closes_abandoned_sessions(tenant_a, settings):
    version = publish_set(tenant_a.organization)
    unused = invite(version, email="unused@example.com")
    Invitation.all_tenants.filter(pk=unused.pk).update(expires_at=timezone.now())
    abandoned = invite(version, email="gone@example.com")
    client = Client()
    client.post(f"/t/{abandoned.token}/start/")
    client.get(f"/t/{abandoned.token}/q/1/")
    # The candidate closed the tab; their question's time ran out long ago.
    QuestionState.all_tenants.filter(invitation=abandoned, position=1).update(
        deadline=timezone.now() - timedelta(seconds=settings.ANSWER_GRACE_SECONDS + 5)
    )
    left_between = invite(version, email="between@example.com")
    client.post(f"/t/{left_between.token}/start/")
    Invitation.all_tenants.filter(pk=left_between.pk).update(
        started_at=timezone.now() - timedelta(seconds=settings.SESSION_MAX_SECONDS + 1)
    )
    assert sweep_sessions() == {"expired": 1, "completed": 1}
    unused.refresh_from_db()
    abandoned.refresh_from_db()
    left_between.refresh_from_db()
    assert unused.status == "expired"
    assert abandoned.status == "started"  # question 1 closed; questions 2 and 3 remain
    assert QuestionState.all_tenants.get(invitation=abandoned, position=1).closed_reason == "time"
    assert left_between.status == "completed" and left_between.score == 0
    reasons = set(
        QuestionState.all_tenants.filter(invitation=left_between).values_list(
            "closed_reason", flat=True
        )
    )
    assert reasons == {"session"}
    assert sweep_sessions() == {"expired": 0, "completed": 0}  # nothing changes twice
