"""The completion PATCH, called directly (the queue is tested in test_loop.py): armed by
invitation.completed, sent once with the organization's key, retried, and never sent with a
revoked key or for a test that did not complete."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.api_keys import api_key_revoke
from accounts.models import ApiKey
from accounts.tenancy import tenant_context
from assessments.hr.greenhouse import services as greenhouse
from assessments.hr.greenhouse.services import (
    greenhouse_callback_attempt,
    greenhouse_callbacks_resend,
)
from assessments.invitations.services import invitation_cancel
from assessments.models import GreenhouseCallback, Invitation
from assessments.taking.session import session_complete, session_start
from tests.candidates.conftest import invite
from tests.greenhouse.conftest import send_test_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(tenant_a, gh_a, version_a, receiver) -> Invitation:
    body = send_test_body(version_a, receiver.url())
    assert gh_a.post("/greenhouse/send_test", body, format="json").status_code == 200
    with tenant_context(tenant_a.organization):
        return Invitation.objects.get()


def complete(invitation: Invitation, django_capture_on_commit_callbacks) -> None:
    now = timezone.now()
    # The task message is what the worker tests look at; here the attempt is called.
    with (
        tenant_context(invitation.organization_id),
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        session_start(invitation, now=now)
        session_complete(invitation, now=now)
    assert [c.func for c in callbacks if getattr(c, "func", None) is greenhouse._send_task]


def attempt(invitation: Invitation):
    with tenant_context(invitation.organization_id):
        callback = GreenhouseCallback.objects.get(invitation=invitation)
        result = greenhouse_callback_attempt(callback_id=callback.pk)
        callback.refresh_from_db()
    return result, callback


def test_completion_patches_greenhouse_once_with_the_key_and_no_body(
    sent, key_a, receiver, django_capture_on_commit_callbacks
):
    with tenant_context(sent.organization_id):
        assert GreenhouseCallback.objects.get().status == "waiting"
    complete(sent, django_capture_on_commit_callbacks)
    delivered, callback = attempt(sent)
    assert delivered is True
    (request,) = receiver.received
    assert request.method == "PATCH"
    assert request.path == "/integrations/testing_partners/take_home_tests/12345"
    assert request.body == b""
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(f"{key_a}:".encode()).decode()
    )
    assert callback.status == "succeeded" and callback.attempts == 1
    # Delivered: the key is not kept any longer, and nothing is sent again.
    assert callback.credential == ""
    assert attempt(sent)[0] is None and len(receiver.received) == 1


def test_a_failed_patch_is_retried_later(
    settings, sent, receiver, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = settings.WEBHOOK_RETRY_MAX_SECONDS = 30
    receiver.fail_next(503)
    complete(sent, django_capture_on_commit_callbacks)
    before = timezone.now()
    delivered, callback = attempt(sent)
    assert delivered is False
    assert callback.status == "pending" and callback.last_error == "HTTP 503"
    assert callback.next_attempt_at > before + timedelta(seconds=20) and callback.credential
    # Not due yet: nothing happens; once due (the sweeper's view), it is sent again.
    assert attempt(sent)[0] is None
    GreenhouseCallback.all_tenants.update(next_attempt_at=before, enqueued_at=None)
    delivered, callback = attempt(sent)
    assert delivered is True and callback.attempts == 2
    assert [r.method for r in receiver.received] == ["PATCH", "PATCH"]


def test_the_sweeper_resends_a_due_callback_whose_message_was_lost(
    sent, django_capture_on_commit_callbacks, monkeypatch
):
    complete(sent, django_capture_on_commit_callbacks)
    sent_tasks = []
    monkeypatch.setattr(
        "assessments.hr.greenhouse.services._send_task",
        lambda org, pk, countdown=None: sent_tasks.append(pk),
    )
    now = timezone.now()
    assert greenhouse_callbacks_resend(now=now) == 0  # its message is not overdue yet
    later = now + timedelta(seconds=60)
    assert greenhouse_callbacks_resend(now=later) == 1
    assert sent_tasks == [GreenhouseCallback.all_tenants.get().pk]


def test_a_revoked_key_is_never_sent(sent, receiver, django_capture_on_commit_callbacks):
    complete(sent, django_capture_on_commit_callbacks)
    api_key_revoke(api_key=ApiKey.all_tenants.get(), actor=None)
    delivered, callback = attempt(sent)
    assert delivered is False and receiver.received == []
    assert callback.status == "failed" and callback.credential == ""
    assert "revoked" in callback.last_error


def test_a_cancelled_test_forgets_the_key_and_sends_nothing(sent, receiver):
    with tenant_context(sent.organization_id):
        assert invitation_cancel(invitation=sent, actor=None)
        callback = GreenhouseCallback.objects.get()
    assert callback.status == "skipped" and callback.credential == ""
    assert attempt(sent)[0] is None and receiver.received == []


def test_invitations_not_from_greenhouse_have_no_callback(
    version_a, django_capture_on_commit_callbacks
):
    invitation = invite(version_a)
    now = timezone.now()
    with (
        tenant_context(invitation.organization_id),
        django_capture_on_commit_callbacks(execute=False),
    ):
        session_start(invitation, now=now)
        session_complete(invitation, now=now)
    assert not GreenhouseCallback.all_tenants.exists()
