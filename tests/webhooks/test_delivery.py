"""Delivering one event: signature, outcome, schedule and disabling (the delivery function,
called directly; the queue's part is in test_worker.py)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.hr.outbox.delivery import retry_after_seconds
from assessments.hr.outbox.delivery import retry_delay as webhook_retry_delay
from assessments.hr.webhooks.attempts import webhook_delivery_attempt
from assessments.invitations.services import invitation_cancel
from assessments.models import Event, WebhookDelivery, WebhookEndpoint
from tests.candidates.conftest import invite
from tests.webhooks.conftest import Reply, endpoint_for, signature_valid

pytestmark = pytest.mark.django_db


def cancel(invitation):
    with tenant_context(invitation.organization_id):
        invitation_cancel(invitation=invitation, actor=None)
    return Event.all_tenants.get(invitation=invitation, type="invitation.cancelled")


def attempt(delivery: WebhookDelivery):
    """Make the delivery due now and attempt it, as its task would."""
    WebhookDelivery.all_tenants.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    with tenant_context(delivery.organization_id):
        result = webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return result


def test_the_secret_is_whsec_and_base64_of_random_bytes(tenant_a):
    endpoint = endpoint_for(tenant_a.organization, "http://127.0.0.1:9/")
    assert endpoint.secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.secret.removeprefix("whsec_"), validate=True)) == 32
    assert endpoint.secret != endpoint_for(tenant_a.organization, "http://127.0.0.1:9/").secret


def test_a_delivery_is_signed_so_that_the_subscriber_can_verify_it(invitation, receiver):
    endpoint = endpoint_for(invitation.organization, receiver.url)
    event = cancel(invitation)
    delivery = WebhookDelivery.all_tenants.get(event=event, endpoint=endpoint)
    result = attempt(delivery)
    (request,) = receiver.received
    assert signature_valid(endpoint.secret, request.headers, request.body)
    assert not signature_valid(endpoint.secret, request.headers, request.body + b" ")
    other_secret = endpoint_for(invitation.organization, receiver.url).secret
    assert not signature_valid(other_secret, request.headers, request.body)
    assert request.headers["webhook-id"] == f"msg_{event.public_id.hex}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == event.payload
    assert json.loads(request.body)["data"]["invitation"]["status"] == "cancelled"
    assert result.status_code == 200 and result.response_excerpt == "ok"
    assert delivery.status == "succeeded" and delivery.attempts == 1


def test_deliveries_are_written_with_the_event_and_only_for_subscribed_types(invitation):
    organization = invitation.organization
    cancelled = endpoint_for(organization, "http://127.0.0.1:9/a", ["invitation.cancelled"])
    endpoint_for(organization, "http://127.0.0.1:9/b", ["invitation.completed"])
    off = endpoint_for(organization, "http://127.0.0.1:9/c", ["invitation.cancelled"])
    WebhookEndpoint.all_tenants.filter(pk=off.pk).update(enabled=False)
    with pytest.raises(RuntimeError), transaction.atomic():
        cancel(invitation)
        raise RuntimeError("the change is rolled back")
    assert not Event.all_tenants.exists() and not WebhookDelivery.all_tenants.exists()
    event = cancel(invitation)
    assert list(WebhookDelivery.all_tenants.values_list("event", "endpoint")) == [
        (event.pk, cancelled.pk)
    ]


def test_a_failed_attempt_is_logged_and_retried_later_with_the_same_webhook_id(
    invitation, receiver, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = settings.WEBHOOK_RETRY_MAX_SECONDS = 30
    endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    receiver.script(Reply(500, body=b"database on fire"))
    before = timezone.now()
    first = attempt(delivery)
    assert first.status_code == 500 and first.response_excerpt == "database on fire"
    assert delivery.status == "pending" and delivery.last_error == "HTTP 500"
    assert delivery.next_attempt_at > before + timedelta(seconds=20)
    # Not due yet: a duplicate message does nothing.
    with tenant_context(delivery.organization_id):
        assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    second = attempt(delivery)
    assert second.number == 2 and second.status_code == 200
    first_id, second_id = (r.headers["webhook-id"] for r in receiver.received)
    assert first_id == second_id and receiver.received[0].body == receiver.received[1].body
    # Delivered: never sent again, whatever message arrives.
    assert attempt(delivery) is None
    assert len(receiver.received) == 2 and delivery.status == "succeeded"


def test_retry_after_is_honoured_in_the_schedule(invitation, receiver):
    endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    receiver.script(Reply(503, headers={"Retry-After": "7"}))
    logged = attempt(delivery)
    wait = (delivery.next_attempt_at - logged.attempted_at).total_seconds()
    assert 7 <= wait < 7.5  # the short test backoff alone would be 0.2 s


def test_retry_after_reads_seconds_and_http_dates():
    now = timezone.now()
    assert retry_after_seconds("120", now=now) == 120
    in_a_minute = (now + timedelta(seconds=60)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 58 <= retry_after_seconds(in_a_minute, now=now) <= 60
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds(None, now=now) is None


def test_the_default_schedule_backs_off_exponentially_for_about_three_days(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 5
    settings.WEBHOOK_RETRY_FACTOR = 4
    settings.WEBHOOK_RETRY_MAX_SECONDS = settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS = 24 * 3600
    settings.WEBHOOK_RETRY_JITTER = 0
    delays = [webhook_retry_delay(attempt_number=n) for n in range(1, 11)]
    assert delays[:4] == [5, 20, 80, 320]
    assert 3 * 86400 <= sum(delays) <= 4 * 86400
    settings.WEBHOOK_RETRY_JITTER = 0.2
    jittered = {webhook_retry_delay(attempt_number=3) for _ in range(50)}
    assert len(jittered) > 1 and all(64 <= d <= 96 for d in jittered)
    assert webhook_retry_delay(attempt_number=1, retry_after=3600) == 3600


def test_a_redirect_is_a_failure_and_is_not_followed(invitation, receiver):
    endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    receiver.script(Reply(302, headers={"Location": "/elsewhere"}))
    logged = attempt(delivery)
    assert logged.status_code == 302 and delivery.status == "pending"
    assert [r.path for r in receiver.received] == ["/hooks"]


def test_a_large_answer_is_read_only_in_part(invitation, receiver, settings):
    settings.WEBHOOK_RESPONSE_MAX_BYTES = 2048
    endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    receiver.script(Reply(200, body=b"x" * 5_000_000))
    logged = attempt(delivery)
    assert logged.status_code == 200 and len(logged.response_excerpt) == 1000


def test_a_slow_receiver_times_out_and_is_retried(invitation, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    receiver.script(Reply(200, delay=2))
    logged = attempt(delivery)
    assert logged.status_code is None and "timed out" in logged.error
    assert logged.duration_ms < 1500 and delivery.status == "pending"


def test_an_unreachable_endpoint_logs_the_error(invitation):
    endpoint_for(invitation.organization, "http://127.0.0.1:9/closed")
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    logged = attempt(delivery)
    assert logged.status_code is None and "ConnectionRefused" in logged.error


def test_a_delivery_gives_up_after_its_last_attempt(invitation, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 100
    endpoint = endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    receiver.script(*[Reply(500)] * settings.WEBHOOK_MAX_ATTEMPTS)
    for _ in range(settings.WEBHOOK_MAX_ATTEMPTS):
        attempt(delivery)
    assert delivery.status == "failed" and delivery.attempts == settings.WEBHOOK_MAX_ATTEMPTS
    assert delivery.next_attempt_at is None
    assert attempt(delivery) is None
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.consecutive_failures == settings.WEBHOOK_MAX_ATTEMPTS


def test_an_endpoint_that_keeps_failing_is_disabled(version, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 3600
    endpoint = endpoint_for(version.organization, receiver.url)
    first = WebhookDelivery.all_tenants.get(event=cancel(invite(version, "a@example.com")))
    waiting = WebhookDelivery.all_tenants.get(event=cancel(invite(version, "b@example.com")))
    receiver.script(*[Reply(500)] * 10)
    for _ in range(3):
        attempt(first)
    endpoint.refresh_from_db()
    assert endpoint.enabled, "three failures, but not yet for an hour"
    WebhookEndpoint.all_tenants.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(hours=2)
    )
    attempt(first)
    endpoint.refresh_from_db()
    waiting.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_at is not None
    assert "4 failed attempts in a row" in endpoint.disabled_reason
    assert first.status == "failed" and waiting.status == "failed"
    assert waiting.last_error == "endpoint disabled"
    cancel(invite(version, "c@example.com"))
    assert WebhookDelivery.all_tenants.filter(endpoint=endpoint).count() == 2
    assert len(receiver.received) == 4


def test_an_endpoint_that_answers_410_gone_is_disabled_at_once(invitation, receiver):
    endpoint = endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    receiver.script(Reply(410))
    attempt(delivery)
    endpoint.refresh_from_db()
    assert delivery.status == "failed"
    assert not endpoint.enabled and "410" in endpoint.disabled_reason


def test_a_success_ends_a_run_of_failures(version, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    endpoint = endpoint_for(version.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invite(version)))
    receiver.script(Reply(500), Reply(500), Reply(200))
    for _ in range(3):
        attempt(delivery)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is None
    assert endpoint.consecutive_failures == 0


def test_an_endpoint_of_another_organization_never_gets_the_event(
    invitation, tenant_b, receiver, other_receiver
):
    mine = endpoint_for(invitation.organization, receiver.url)
    endpoint_for(tenant_b.organization, other_receiver.url)
    cancel(invitation)
    (delivery,) = WebhookDelivery.all_tenants.all()
    assert delivery.endpoint_id == mine.pk
    attempt(delivery)
    assert len(receiver.received) == 1 and other_receiver.received == []
    # A task run in the other organization's context cannot even see the delivery.
    with tenant_context(tenant_b.organization):
        WebhookDelivery.all_tenants.filter(pk=delivery.pk).update(
            status="pending", next_attempt_at=timezone.now()
        )
        assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert len(receiver.received) == 1
