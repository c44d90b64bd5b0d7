"""The issue's "done when": an HR client that knows only the API invites a candidate, receives
a signed invitation.completed, and fetches the per-question result."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from accounts.api_keys import api_key_create
from tests.api.conftest import client_for
from tests.candidates.conftest import correct_option, publish_set
from tests.webhooks.conftest import signature_valid

pytestmark = pytest.mark.django_db(transaction=True)


def test_hr_client_invites_hears_completion_and_fetches_the_result(
    tenant_a, receiver, celery_worker
):
    version = publish_set(tenant_a.organization)
    key = api_key_create(organization=tenant_a.organization, name="ATS", actor=None)[1]
    hr = client_for(key)
    # Subscribe, then invite: everything through the API.
    subscription = hr.post(
        "/api/v1/webhooks/",
        {"url": receiver.url, "events": ["invitation.completed"]},
        format="json",
    )
    assert subscription.status_code == 201, subscription.json()
    secret = subscription.json()["secret"]
    (assessment,) = hr.get("/api/v1/assessments/").json()["results"]
    invited = hr.post(
        "/api/v1/invitations/",
        {
            "assessment": assessment["id"],
            "candidate": {"email": "loop@example.com", "first_name": "Lo", "external_id": "ats-9"},
            "send_email": False,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="loop-1",
    ).json()

    # The candidate takes the test at the link the API returned.
    candidate = Client()
    base = invited["url"].split("127.0.0.1:8000")[-1].rstrip("/")
    candidate.post(f"{base}/start/")
    for position in (1, 2):
        candidate.get(f"{base}/q/{position}/")
        candidate.post(
            f"{base}/q/{position}/answer/",
            {"answer": correct_option(version, position), "submission_id": uuid.uuid4()},
        )
    candidate.get(f"{base}/q/3/")
    candidate.post(
        f"{base}/q/3/answer/", {"answer": "running statistics", "submission_id": uuid.uuid4()}
    )

    (delivery,) = receiver.wait_for(1)
    assert signature_valid(secret, delivery.headers, delivery.body)
    event = json.loads(delivery.body)
    assert event["type"] == "invitation.completed"
    assert event["data"]["invitation"]["id"] == invited["id"]
    assert event["data"]["invitation"]["candidate"]["external_id"] == "ats-9"

    # The event carries the invitation exactly as the API shows it, and the score beside it.
    shown = hr.get(f"/api/v1/invitations/{invited['id']}/").json()
    assert event["data"]["invitation"] == shown
    assert set(event["data"]["invitation"]) == set(invited)
    result = hr.get(f"/api/v1/invitations/{invited['id']}/result/").json()
    assert event["data"]["result"] == {
        "score": result["score"], "max_score": result["max_score"], "percent": 100.0
    }  # fmt: skip
    assert result["status"] == "completed" and result["percent"] == 100.0
    assert result["badge_awarded"] is True
    assert [c["verdict"] for c in result["challenges"]] == ["correct"] * 3
