"""What the queue does for webhooks, with a real worker: deliver after commit, retry on its
own schedule, honour Retry-After, re-send lost messages, and never send an event twice."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.hr.webhooks import services as webhooks
from assessments.invitations.services import invitation_cancel
from assessments.models import Event, WebhookAttempt, WebhookDelivery
from assessments.tasks import deliver_webhook, sweep_webhook_deliveries
from tests.candidates.conftest import invite
from tests.webhooks.conftest import Reply, endpoint_for, signature_valid

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def cancel(invitation) -> Event:
    with tenant_context(invitation.organization_id):
        invitation_cancel(invitation=invitation, actor=None)
    return Event.all_tenants.get(invitation=invitation, type="invitation.cancelled")


def wait_delivery(status: str, timeout: float = 20) -> WebhookDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.all_tenants.first()
        if delivery is not None and delivery.status == status:
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"the delivery is {delivery and delivery.status}, not {status}")


def test_an_event_is_delivered_signed_by_a_worker_once_committed(
    invitation, receiver, celery_worker
):
    endpoint = endpoint_for(invitation.organization, receiver.url, ["invitation.cancelled"])
    event = cancel(invitation)
    (request,) = receiver.wait_for(1)
    assert signature_valid(endpoint.secret, request.headers, request.body)
    assert request.headers["webhook-id"] == f"msg_{event.public_id.hex}"
    delivery = wait_delivery("succeeded")
    assert delivery.attempts == 1 and delivery.last_status_code == 200


def test_a_failing_receiver_is_retried_until_it_answers_with_one_webhook_id(
    invitation, receiver, celery_worker
):
    endpoint = endpoint_for(invitation.organization, receiver.url)
    receiver.script(Reply(500), Reply(502, body=b"bad gateway"))
    cancel(invitation)
    requests = receiver.wait_for(3)
    delivery = wait_delivery("succeeded")
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    assert all(signature_valid(endpoint.secret, r.headers, r.body) for r in requests)
    # Backoff: 0.2 s then 0.4 s (± 20%) in the test settings.
    assert requests[1].at - requests[0].at >= 0.15
    assert requests[2].at - requests[1].at >= 0.3
    logged = WebhookAttempt.all_tenants.filter(delivery=delivery).order_by("number")
    assert [(a.status_code, a.response_excerpt) for a in logged] == [
        (500, "ok"),
        (502, "bad gateway"),
        (200, "ok"),
    ]
    time.sleep(1)
    assert len(receiver.received) == 3


def test_retry_after_is_waited_for(invitation, receiver, celery_worker):
    endpoint_for(invitation.organization, receiver.url)
    receiver.script(Reply(503, headers={"Retry-After": "2"}))
    cancel(invitation)
    first, second = receiver.wait_for(2, timeout=30)
    assert second.at - first.at >= 1.9  # the test backoff alone would be 0.2 s
    wait_delivery("succeeded")


def test_an_endpoint_failing_every_attempt_is_disabled(
    invitation, receiver, celery_worker, settings
):
    # The worker's settings: 4 attempts a delivery, disable after 6 failures in a row.
    endpoint = endpoint_for(invitation.organization, receiver.url)
    receiver.script(*[Reply(500)] * 20)
    cancel(invitation)
    receiver.wait_for(4)
    wait_delivery("failed")
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.consecutive_failures == 4
    cancel(invite(invitation.version, email="second@example.com"))
    receiver.wait_for(6)
    deadline = time.monotonic() + 10
    while endpoint.enabled and time.monotonic() < deadline:
        time.sleep(0.1)
        endpoint.refresh_from_db()
    assert not endpoint.enabled and "6 failed attempts in a row" in endpoint.disabled_reason
    time.sleep(1)
    assert len(receiver.received) == 6


def test_a_lost_message_is_sent_again_by_the_sweeper(
    invitation, receiver, celery_worker, monkeypatch
):
    endpoint_for(invitation.organization, receiver.url)
    sent = []
    with monkeypatch.context() as patch:
        # The broker loses the message sent at commit.
        patch.setattr(webhooks, "delivery_task_send", lambda *args, **kwargs: sent.append(args))
        cancel(invitation)
    assert len(sent) == 1
    assert sweep_webhook_deliveries() == 0, "not yet overdue: its message may still run"
    WebhookDelivery.all_tenants.update(enqueued_at=timezone.now() - timedelta(seconds=5))
    assert sweep_webhook_deliveries() == 1
    assert sweep_webhook_deliveries() == 0, "just sent"
    receiver.wait_for(1)
    wait_delivery("succeeded")
    WebhookDelivery.all_tenants.update(enqueued_at=timezone.now() - timedelta(hours=1))
    assert sweep_webhook_deliveries() == 0, "delivered: nothing to re-send"


def test_duplicate_messages_deliver_the_event_once(invitation, receiver, celery_worker):
    endpoint_for(invitation.organization, receiver.url)
    receiver.script(Reply(200, delay=0.5))
    cancel(invitation)
    delivery = WebhookDelivery.all_tenants.get()
    for _ in range(5):
        deliver_webhook.delay(organization_id=delivery.organization_id, delivery_id=delivery.pk)
    receiver.wait_for(1)
    wait_delivery("succeeded")
    for _ in range(3):
        deliver_webhook.delay(organization_id=delivery.organization_id, delivery_id=delivery.pk)
    time.sleep(1.5)
    assert len(receiver.received) == 1
    assert WebhookAttempt.all_tenants.count() == 1


def test_an_endpoint_of_another_organization_never_receives_the_event(
    invitation, tenant_b, receiver, other_receiver, celery_worker
):
    endpoint_for(invitation.organization, receiver.url)
    endpoint_for(tenant_b.organization, other_receiver.url)
    cancel(invitation)
    receiver.wait_for(1)
    wait_delivery("succeeded")
    time.sleep(1)
    assert other_receiver.received == []
    assert WebhookDelivery.all_tenants.filter(organization=tenant_b.organization).count() == 0
