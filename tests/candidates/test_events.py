"""Every transition of an invitation writes one event, in the transaction that made it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.invitations.services import invitation_cancel, invitations_expire
from assessments.models import Event, Invitation
from tests.candidates.conftest import correct_option, invite

pytestmark = pytest.mark.django_db


def _types(invitation) -> list[str]:
    return list(
        Event.all_tenants.filter(invitation=invitation)
        .order_by("id")
        .values_list("type", flat=True)
    )


def test_a_session_writes_started_completed_and_badge_events(version, invitation):
    client = Client()
    base = f"/t/{invitation.token}"
    client.post(f"{base}/start/")
    client.post(f"{base}/start/")  # starting twice is one start
    for position in (1, 2):
        client.get(f"{base}/q/{position}/")
        client.post(
            f"{base}/q/{position}/answer/",
            {"answer": correct_option(version, position), "submission_id": f"{position}" * 32},
        )
    client.get(f"{base}/q/3/")
    client.post(f"{base}/q/3/answer/", {"answer": "running statistics", "submission_id": "3" * 32})
    assert _types(invitation) == ["invitation.started", "invitation.completed", "badge.awarded"]
    completed = Event.all_tenants.get(invitation=invitation, type="invitation.completed")
    data = completed.payload["data"]["invitation"]
    assert completed.payload["type"] == "invitation.completed"
    assert data["id"] == str(invitation.public_id) and data["status"] == "completed"
    assert data["score"] == 4 and data["candidate"]["email"] == invitation.email
    badge = Event.all_tenants.get(invitation=invitation, type="badge.awarded").payload["data"]
    assert badge["badge"]["url"].endswith(f"/badges/{badge['badge']['id']}/")


def test_cancel_and_expire_write_their_events_once(version, invitation):
    with tenant_context(invitation.organization_id):
        invitation_cancel(invitation=invitation, actor=None)
        invitation_cancel(invitation=invitation, actor=None)
    assert _types(invitation) == ["invitation.cancelled"]
    late = invite(version, email="late@example.com")
    Invitation.all_tenants.filter(pk=late.pk).update(expires_at=timezone.now())
    assert invitations_expire(now=timezone.now()) == 1
    assert invitations_expire(now=timezone.now()) == 0
    assert _types(late) == ["invitation.expired"]
