"""The whole loop as Greenhouse lives it, with a real worker: list the tests, send one, the
candidate takes it, exactly one PATCH reaches the callback URL, and test_status says
complete with the score and the report."""

from __future__ import annotations

import time
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.models import GreenhouseCallback, Invitation
from assessments.taking.session import session_complete, session_start
from tests.candidates.conftest import correct_option
from tests.greenhouse.conftest import basic, send_test_body

pytestmark = pytest.mark.django_db(transaction=True)


def test_greenhouse_sends_a_test_hears_completion_and_reads_the_status(
    tenant_a, key_a, gh_a, version_a, receiver, celery_worker
):
    (test,) = gh_a.get("/greenhouse/list_tests").json()
    assert test == {
        "partner_test_id": str(version_a.challenge_set.public_id),
        "partner_test_name": "BatchNorm basics",
    }
    body = send_test_body(version_a, receiver.url())
    sent = gh_a.post("/greenhouse/send_test", body, format="json")
    assert sent.status_code == 200, sent.json()
    interview = sent.json()["partner_interview_id"]
    status = gh_a.get("/greenhouse/test_status", {"partner_interview_id": interview}).json()
    assert status["partner_status"] == "sent"

    # The candidate takes the test at their link (the worker grades the answers).
    with tenant_context(tenant_a.organization):
        invitation = Invitation.objects.get(public_id=interview)
    candidate = Client()
    base = invitation.candidate_path().rstrip("/")
    candidate.post(f"{base}/start/")
    for position in (1, 2):
        candidate.get(f"{base}/q/{position}/")
        candidate.post(
            f"{base}/q/{position}/answer/",
            {"answer": correct_option(version_a, position), "submission_id": uuid.uuid4()},
        )
    candidate.get(f"{base}/q/3/")
    candidate.post(
        f"{base}/q/3/answer/", {"answer": "running statistics", "submission_id": uuid.uuid4()}
    )

    (patch,) = receiver.wait_for(1)
    assert patch.method == "PATCH"
    assert patch.path == "/integrations/testing_partners/take_home_tests/12345"
    assert patch.headers["authorization"] == basic(key_a)
    assert patch.body == b""
    # Greenhouse now asks for the status (as the PATCH asks it to).
    status = gh_a.get("/greenhouse/test_status", {"partner_interview_id": interview}).json()
    assert status["partner_status"] == "complete"
    assert status["partner_score"] == 100.0
    assert status["partner_profile_url"].startswith("http://127.0.0.1:8000/reports/")
    assert status["metadata"]["Score"] == "4 / 4"
    assert status["metadata"]["Badge awarded"] is True
    # Once: no second PATCH follows (a redelivered message finds nothing due).
    time.sleep(3)
    assert len(receiver.received) == 1
    callback = GreenhouseCallback.all_tenants.get()
    assert callback.status == "succeeded" and callback.attempts == 1 and not callback.credential


def test_a_patch_refused_at_first_is_retried_by_the_worker(
    tenant_a, key_a, gh_a, version_a, receiver, celery_worker
):
    receiver.fail_next(502, 429)
    body = send_test_body(version_a, receiver.url(777))
    interview = gh_a.post("/greenhouse/send_test", body, format="json").json()
    with tenant_context(tenant_a.organization):
        invitation = Invitation.objects.get(public_id=interview["partner_interview_id"])
        now = timezone.now()
        session_start(invitation, now=now)
        session_complete(invitation, now=now)
    requests = receiver.wait_for(3)
    assert [r.method for r in requests] == ["PATCH"] * 3
    assert all(r.headers["authorization"] == basic(key_a) for r in requests)
    deadline = time.monotonic() + 10
    while GreenhouseCallback.all_tenants.get().status != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert GreenhouseCallback.all_tenants.get().attempts == 3
