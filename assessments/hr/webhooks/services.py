"""Webhooks: subscriptions, fan-out of events to deliveries, signed attempts, retries.

The life of a delivery (docs/webhooks.md):

- ``event_fan_out`` writes one delivery per subscribed endpoint in the transaction that
  wrote the event, and sends its task when that transaction commits.
- ``webhook_delivery_attempt`` (the task's body) claims the delivery, POSTs the event
  signed the Standard Webhooks way, logs the attempt, and on failure schedules the next
  one with exponential backoff and jitter (never sooner than ``Retry-After``). Short waits
  go to the broker as a countdown; long ones are picked up by the sweeper when due. The
  claim, the schedule and the sweep are the outbox's (``assessments.hr.outbox.delivery``),
  shared with Greenhouse's callback; what is webhooks' own is here.
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
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, Organization, User
from accounts.tenancy import tenant_context
from assessments.core.models import Event
from assessments.hr.api.serializers import InvitationSerializer
from assessments.hr.outbox.delivery import (
    Reply,
    attempt_apply,
    lease_claim,
    lost_messages_resend,
    outbox_request,
    outbox_task_send,
    retry_delay,
)
from assessments.hr.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    webhook_events_check,
    webhook_secret_new,
    webhook_url_check,
)

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 1000
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
def _send_task(organization_id: int, delivery_id: int, countdown: float | None = None) -> None:
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
                partial(_send_task, delivery.organization_id, delivery.pk, wait or None)
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


# --- one attempt --------------------------------------------------------------------------
def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one attempt, unless its endpoint already has
    ``WEBHOOK_ENDPOINT_CONCURRENCY`` attempts in flight (a slow endpoint holds its own
    slots, never the others')."""
    endpoint_id = (
        WebhookDelivery.objects.filter(pk=delivery_id).values_list("endpoint_id", flat=True).first()
    )
    if endpoint_id is None:
        return False
    with transaction.atomic():
        # Two deliveries to one endpoint racing for its last slot: the lock orders them.
        list(WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).values("pk"))
        in_flight = (
            WebhookDelivery.objects.filter(endpoint_id=endpoint_id, lease_until__gt=now)
            .exclude(pk=delivery_id)
            .count()
        )
        if in_flight >= settings.WEBHOOK_ENDPOINT_CONCURRENCY:
            return False  # the attempt in flight sends this one's task when it ends
        return lease_claim(WebhookDelivery.objects.filter(pk=delivery_id), now)


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _delivery_pool() -> ThreadPoolExecutor:
    """The worker process's threads for attempts (made after the fork, once per process)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (
            os.getpid(),
            ThreadPoolExecutor(settings.WEBHOOK_DELIVERY_THREADS, thread_name_prefix="webhook"),
        )
    return _pool[1]


def webhook_delivery_dispatch(*, organization_id: int, delivery_id: int) -> bool:
    """Claim a due delivery and run its attempt on the process's delivery threads, so the
    task's worker slot is free at once; return whether it was claimed.

    An attempt waiting on a slow endpoint then holds a thread, not the queue: deliveries to
    other endpoints go on. A worker that dies mid-attempt leaves the claim to lapse and the
    sweeper sends the delivery again (at least once, as always)."""
    if not _claim(delivery_id, timezone.now()):
        return False
    _delivery_pool().submit(_attempt_in_thread, organization_id, delivery_id)
    return True


def _attempt_in_thread(organization_id: int, delivery_id: int) -> None:
    try:
        with tenant_context(organization_id):
            _attempt_claimed(delivery_id, timezone.now())
    except Exception:
        logger.exception("webhook delivery %s: the attempt failed", delivery_id)
    finally:
        connections.close_all()  # this thread's connections only


def _endpoint_disable(endpoint: WebhookEndpoint, *, reason: str, now: datetime) -> None:
    """Switch ``endpoint`` (locked by the caller) off and fail what was waiting for it."""
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:300]
    WebhookDelivery.objects.filter(
        endpoint=endpoint, status=WebhookDelivery.Status.PENDING, lease_until__isnull=True
    ).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="endpoint disabled"
    )
    logger.warning("webhook endpoint %s disabled: %s", endpoint.public_id, reason)


def _send(delivery: WebhookDelivery) -> tuple[Reply, int]:
    """POST the delivery's event once, signed; return what came back and how long it took."""
    webhook_id = delivery.webhook_id
    timestamp = int(time.time())
    body = event_body(delivery.event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_sign(
            key=delivery.endpoint.signing_key, webhook_id=webhook_id, timestamp=timestamp,
            body=body,
        ),
    }  # fmt: skip
    started = time.monotonic()
    reply = outbox_request("POST", delivery.endpoint.url, body=body, headers=headers)
    return reply, int((time.monotonic() - started) * 1000)


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookAttempt | None:
    """Attempt a due delivery once, if no one else is; log it and decide what comes next.

    Return the attempt, or None when there was nothing to do (not due, finished, or
    claimed by another worker). Runs inside the delivery's tenant context.
    """
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    return _attempt_claimed(delivery_id, now)


def _attempt_claimed(delivery_id: int, now: datetime) -> WebhookAttempt | None:
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    if not delivery.endpoint.enabled:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None, lease_until=None,
            last_error="endpoint disabled",
        )  # fmt: skip
        return None
    attempted_at = timezone.now()
    reply, duration_ms = _send(delivery)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        # Failure counters of one endpoint are written by many deliveries at once.
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        manual = delivery.manual
        attempt = WebhookAttempt.objects.create(
            delivery=delivery, number=delivery.attempts + 1, attempted_at=attempted_at,
            duration_ms=duration_ms, status_code=reply.status,
            response_excerpt=reply.body.decode("utf-8", errors="replace")[:EXCERPT_CHARS],
            error=reply.error, manual=manual,
        )  # fmt: skip
        countdown = attempt_apply(delivery, reply, attempted_at=attempted_at)
        delivery.manual = False
        if _endpoint_record(endpoint, reply, manual=manual, attempted_at=attempted_at, now=now):
            countdown = None
            if delivery.status == WebhookDelivery.Status.PENDING:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
        delivery.save()
        endpoint.save(
            update_fields=[
                "enabled", "disabled_at", "disabled_reason", "failing_since",
                "consecutive_failures", "updated_at",
            ]
        )  # fmt: skip
        if countdown is not None:
            transaction.on_commit(
                partial(_send_task, delivery.organization_id, delivery.pk, countdown)
            )
        transaction.on_commit(partial(_endpoint_next_send, endpoint.pk, delivery.pk))
    return attempt


def _endpoint_next_send(endpoint_id: int, finished_id: int) -> None:
    """Send the task of the endpoint's next due delivery that waited for this attempt's slot."""
    now = timezone.now()
    waiting = (
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
            lease_until__isnull=True,
        )
        .exclude(pk=finished_id)
        .order_by("next_attempt_at")
        .values_list("organization_id", "pk")
        .first()
    )
    if waiting is not None:
        _send_task(*waiting)


def _endpoint_record(
    endpoint: WebhookEndpoint, reply: Reply, *, manual: bool, attempted_at: datetime,
    now: datetime,
) -> bool:  # fmt: skip
    """Count the attempt in the endpoint's run of failures (endpoint locked, not saved);
    disable it when it answered 410 or kept failing. Return whether this disabled it."""
    if reply.succeeded:
        endpoint.failing_since = None
        endpoint.consecutive_failures = 0
        return False
    endpoint.failing_since = endpoint.failing_since or attempted_at
    endpoint.consecutive_failures += 1
    if reply.status == 410:
        # The receiver says it wants no more (Standard Webhooks: disable).
        _endpoint_disable(endpoint, reason="the endpoint answered 410 Gone", now=now)
        return True
    if endpoint.enabled and not manual and _keeps_failing(endpoint, now):
        _endpoint_disable(
            endpoint,
            reason=(
                f"{endpoint.consecutive_failures} failed attempts in a row since "
                f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
            ),
            now=now,
        )
        return True
    return False


def _keeps_failing(endpoint: WebhookEndpoint, now: datetime) -> bool:
    return (
        endpoint.failing_since is not None
        and endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES
        and now - endpoint.failing_since
        >= timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
    )


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
        transaction.on_commit(partial(_send_task, locked.organization_id, locked.pk))


def webhook_deliveries_resend(*, now: datetime, batch: int = 1000) -> int:
    """Re-send lost delivery messages, of every organization; return how many."""
    return lost_messages_resend(WebhookDelivery, _send_task, now=now, batch=batch)
