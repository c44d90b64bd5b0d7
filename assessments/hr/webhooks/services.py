"""Webhooks: subscriptions, fan-out of events to deliveries, signed attempts, retries.

The life of a delivery (docs/webhooks.md):

- ``event_fan_out`` writes one delivery per subscribed endpoint in the transaction that
  wrote the event (a failing endpoint's waits its own backoff), and sends its task when
  that transaction commits.
- The task (``attempts.py``) claims the delivery, POSTs the event signed the Standard
  Webhooks way on the worker's delivery threads, logs the attempt, and on failure schedules
  the next one with exponential backoff and jitter (never sooner than ``Retry-After``).
  Short waits go to the broker as a countdown; long ones are picked up by the sweeper when
  due. The claim, the schedule and the sweep are the outbox's
  (``assessments.hr.outbox.delivery``), shared with Greenhouse's callback.
- ``webhook_deliveries_resend`` (the sweeper) re-sends due deliveries whose message was
  lost; a duplicate message is harmless because only one worker can claim a due delivery.
- An endpoint that failed every attempt for long enough, or answered 410 Gone, is disabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, Organization, User
from assessments.core.models import Event
from assessments.hr.api.serializers import InvitationSerializer
from assessments.hr.outbox.delivery import (
    lost_messages_resend,
    outbox_task_send,
    retry_delay,
)
from assessments.hr.webhooks.models import (
    WebhookDelivery,
    WebhookEndpoint,
    webhook_events_check,
    webhook_secret_new,
    webhook_url_check,
)

logger = logging.getLogger(__name__)

USER_AGENT = "ML-Assess-Webhooks/1"
# Sent by name: the task's module imports this one (assessments/hr/webhooks/tasks.py).
DELIVER_TASK = "assessments.tasks.deliver_webhook"


# --- subscriptions ------------------------------------------------------------------------
def webhook_endpoint_check(*, url: str, events: Iterable[str]) -> None:
    """Refuse an unsafe URL or an empty or unknown list of event types."""
    webhook_events_check(events)
    webhook_url_check(url)


def webhook_endpoint_create(
    *,
    organization: Organization,
    url: str,
    events: Iterable[str],
    description: str = "",
    actor: User | None,
) -> WebhookEndpoint:
    """Subscribe ``url`` of ``organization`` to ``events``, with a new secret."""
    events = sorted(set(events))
    webhook_endpoint_check(url=url, events=events)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url=url,
            events=events,
            description=description,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit_record(
            organization=organization, actor=actor, action=AuditEvent.Action.CREATED,
            target=endpoint, changes={"url": url, "events": events},
        )  # fmt: skip
    return endpoint


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: User | None,
    url: str | None = None,
    events: Iterable[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description or switch; enabling it again clears
    what the platform recorded when it disabled it."""
    changes: dict[str, object] = {}
    for name, value in (("url", url), ("description", description), ("enabled", enabled)):
        if value is not None and getattr(endpoint, name) != value:
            changes[name] = value
    if events is not None and sorted(set(events)) != sorted(endpoint.events):
        changes["events"] = sorted(set(events))
    # Only what changes is checked: an endpoint whose host stopped resolving can still be
    # switched off or pointed elsewhere.
    if "events" in changes:
        webhook_events_check(changes["events"])
    if "url" in changes:
        webhook_url_check(changes["url"])
    if not changes:
        return endpoint
    with transaction.atomic():
        for name, value in changes.items():
            setattr(endpoint, name, value)
        webhook_endpoint_reset_if_enabled(endpoint)
        endpoint.save()
        audit_record(
            organization=endpoint.organization, actor=actor, action=AuditEvent.Action.CHANGED,
            target=endpoint, changes=changes,
        )  # fmt: skip
    return endpoint


def webhook_endpoint_reset_if_enabled(endpoint: WebhookEndpoint) -> None:
    """On an endpoint (being saved) switched on, forget the failures that disabled it."""
    if endpoint.enabled and endpoint.disabled_at is not None:
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
        endpoint.consecutive_failures = 0


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: User | None) -> str:
    """Give the endpoint a new secret and return it (the old one stops working at once)."""
    endpoint.secret = webhook_secret_new()
    endpoint.save(update_fields=["secret", "updated_at"])
    audit_record(
        organization=endpoint.organization, actor=actor, action=AuditEvent.Action.CHANGED,
        target=endpoint, changes={"secret": "rotated"},
    )  # fmt: skip
    return endpoint.secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    """Delete an endpoint with its deliveries and their log."""
    with transaction.atomic():
        audit_record(
            organization=endpoint.organization, actor=actor, action=AuditEvent.Action.DELETED,
            target=endpoint,
        )  # fmt: skip
        endpoint.delete()


# --- fan-out ------------------------------------------------------------------------------
def delivery_task_send(
    organization_id: int, delivery_id: int, countdown: float | None = None
) -> None:
    """Send the attempt task of one delivery (now, or after ``countdown`` seconds)."""
    outbox_task_send(
        DELIVER_TASK, organization_id=organization_id, row_kwarg="delivery_id",
        row_id=delivery_id, countdown=countdown,
    )  # fmt: skip


def event_fan_out(event: Event) -> list[WebhookDelivery]:
    """Create a delivery of ``event`` for every enabled endpoint of its organization that
    subscribed to its type, in the caller's transaction; send their tasks on commit.

    Runs in the event's organization context (``event_record`` enters it)."""
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(enabled=True)
        if endpoint.wants(event.type)
    ]
    if not endpoints:
        return []
    event.payload = webhook_payload(event)
    Event.objects.filter(pk=event.pk).update(payload=event.payload)
    now = timezone.now()
    # Healthy endpoints first; a failing one waits out its own backoff, not anyone else's.
    endpoints.sort(key=lambda endpoint: endpoint.consecutive_failures)
    waits = {endpoint.pk: _endpoint_backoff(endpoint) for endpoint in endpoints}
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            organization_id=event.organization_id,
            event=event,
            endpoint=endpoint,
            attempt_limit=settings.WEBHOOK_MAX_ATTEMPTS,
            next_attempt_at=now + timedelta(seconds=waits[endpoint.pk]),
            enqueued_at=now + timedelta(seconds=waits[endpoint.pk]),
            created_at=event.created_at,
        )
        for endpoint in endpoints
    )
    for delivery in deliveries:
        wait = waits[delivery.endpoint_id]
        if wait <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:
            transaction.on_commit(
                partial(delivery_task_send, delivery.organization_id, delivery.pk, wait or None)
            )
        # A longer wait is the sweeper's: it sends the task once the delivery is due.
    return deliveries


def _endpoint_backoff(endpoint: WebhookEndpoint) -> float:
    """Seconds a new delivery to ``endpoint`` waits: none while it is healthy; while it keeps
    failing, the backoff its run of failures earned (per endpoint, not per delivery)."""
    if not endpoint.consecutive_failures:
        return 0.0
    return retry_delay(attempt_number=endpoint.consecutive_failures)


def webhook_payload(event: Event) -> dict:
    """Return the event's body as subscribers get it: ``data.invitation`` is the invitation
    exactly as the API shows it, and ``data.result`` the score beside it."""
    invitation = event.invitation
    score, max_score = invitation.score, invitation.max_score
    percent = round(100 * score / max_score, 2) if score is not None and max_score else None
    data = {
        **event.payload["data"],
        "invitation": dict(InvitationSerializer(invitation).data),
        "result": {"score": score, "max_score": max_score, "percent": percent},
    }
    return {**event.payload, "data": data}


# --- signing ------------------------------------------------------------------------------
def webhook_sign(*, key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of
    ``id.timestamp.body`` under ``key`` (the decoded secret)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def event_body(event: Event) -> bytes:
    """The exact bytes sent (and signed): the event's payload as compact JSON."""
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()


# --- by hand, and the sweeper -------------------------------------------------------------
def webhook_delivery_redeliver(*, delivery: WebhookDelivery, actor: User | None) -> None:
    """Send a delivery again now, once, with the same ``webhook-id`` (the same event)."""
    now = timezone.now()
    with transaction.atomic():
        locked = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .get(pk=delivery.pk)
        )
        if not locked.endpoint.enabled:
            raise ValidationError("The endpoint is disabled; enable it before redelivering.")
        locked.status = WebhookDelivery.Status.PENDING
        locked.attempt_limit = max(locked.attempt_limit, locked.attempts + 1)
        locked.next_attempt_at = now
        locked.enqueued_at = now
        locked.manual = True
        locked.save(
            update_fields=["status", "attempt_limit", "next_attempt_at", "enqueued_at", "manual"]
        )
        audit_record(
            organization=locked.endpoint.organization, actor=actor,
            action=AuditEvent.Action.CHANGED, target=locked, changes={"redelivered": True},
        )  # fmt: skip
        transaction.on_commit(partial(delivery_task_send, locked.organization_id, locked.pk))


def webhook_deliveries_resend(*, now: datetime, batch: int = 1000) -> int:
    """Re-send lost delivery messages, of every organization; return how many."""
    return lost_messages_resend(WebhookDelivery, delivery_task_send, now=now, batch=batch)
