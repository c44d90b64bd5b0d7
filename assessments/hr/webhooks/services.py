"""Webhooks: subscriptions, fan-out of events to deliveries, signed attempts, retries.

The life of a delivery (docs/webhooks.md):

- ``event_fan_out`` writes one delivery per subscribed endpoint in the transaction that
  wrote the event, and sends its task when that transaction commits.
- ``webhook_delivery_attempt`` (the task's body) claims the delivery, POSTs the event
  signed the Standard Webhooks way, logs the attempt, and on failure schedules the next
  one with exponential backoff and jitter (never sooner than ``Retry-After``). Short waits
  go to the broker as a countdown; long ones are picked up by the sweeper when due.
- ``webhook_deliveries_resend`` (the sweeper) re-sends due deliveries whose message was
  lost; a duplicate message is harmless because only one worker can claim a due delivery.
- An endpoint that failed every attempt for long enough, or answered 410 Gone, is disabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import random
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, Organization, User
from assessments.core.models import Event
from assessments.hr.outbox import transport as webhook_transport
from assessments.hr.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    webhook_secret_new,
)

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 1000
USER_AGENT = "ML-Assess-Webhooks/1"


# --- subscriptions ------------------------------------------------------------------------
def webhook_url_check(url: str) -> None:
    """Refuse a URL the platform may not call: not http(s), or resolving to a non-public
    address (unless ``WEBHOOK_ALLOW_PRIVATE_TARGETS``)."""
    try:
        _, host, port, _ = webhook_transport.url_parts(url)
        webhook_transport.resolve(host, port, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
    except webhook_transport.UnsafeTarget as exc:
        raise ValidationError({"url": str(exc)}, code="unsafe_url") from exc


def webhook_events_check(events: Iterable[str]) -> None:
    """Refuse an empty list of event types, or one with a type that does not exist."""
    events = list(events or [])
    unknown = sorted(set(events) - set(Event.Type.values))
    if unknown:
        raise ValidationError({"events": f"unknown event types: {', '.join(unknown)}"})
    if not events:
        raise ValidationError({"events": "choose at least one event type"})


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
        endpoint = WebhookEndpoint.all_tenants.create(
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
    from assessments.tasks import deliver_webhook

    deliver_webhook.apply_async(
        kwargs={"organization_id": organization_id, "delivery_id": delivery_id},
        countdown=countdown,
    )


def event_fan_out(event: Event) -> list[WebhookDelivery]:
    """Create a delivery of ``event`` for every enabled endpoint of its organization that
    subscribed to its type, in the caller's transaction; send their tasks on commit."""
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.all_tenants.filter(
            organization_id=event.organization_id, enabled=True
        )
        if endpoint.wants(event.type)
    ]
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = WebhookDelivery.all_tenants.bulk_create(
        WebhookDelivery(
            organization_id=event.organization_id,
            event=event,
            endpoint=endpoint,
            attempt_limit=settings.WEBHOOK_MAX_ATTEMPTS,
            next_attempt_at=now,
            enqueued_at=now,
            created_at=event.created_at,
        )
        for endpoint in endpoints
    )
    for delivery in deliveries:
        transaction.on_commit(partial(_send_task, delivery.organization_id, delivery.pk))
    return deliveries


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


# --- schedule -----------------------------------------------------------------------------
def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def webhook_retry_delay(*, attempt_number: int, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt_number`` (1 for the first): base x
    factor^(n-1), capped, ± jitter; never less than what the receiver asked (capped too)."""
    exponential = settings.WEBHOOK_RETRY_BASE_SECONDS * (
        settings.WEBHOOK_RETRY_FACTOR ** (attempt_number - 1)
    )
    jitter = settings.WEBHOOK_RETRY_JITTER
    # Jitter spreads retries of many deliveries that failed together (not a secret).
    delay = min(exponential, settings.WEBHOOK_RETRY_MAX_SECONDS) * random.uniform(  # noqa: S311
        1 - jitter, 1 + jitter
    )
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS))
    return delay


# --- one attempt --------------------------------------------------------------------------
def lease_claim(rows: QuerySet, now: datetime) -> bool:
    """Take a pending, due row (a delivery, a Greenhouse callback) for one attempt.

    Duplicate messages (a sweeper re-send, a broker redelivery) race for the same row: one
    conditional update lets exactly one of them attempt it, holding it for a lease long
    enough for the attempt.
    """
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3 + 30)
    return bool(
        rows.filter(
            status="pending",
            # A countdown may fire a little early by the database's clock.
            next_attempt_at__lte=now + timedelta(seconds=1),
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease)
    )


def _claim(delivery_id: int, now: datetime) -> bool:
    return lease_claim(WebhookDelivery.objects.filter(pk=delivery_id), now)


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


def _send(delivery: WebhookDelivery) -> tuple[int | None, str, str, float | None, int]:
    """POST the delivery's event once; return (status, excerpt, error, retry_after, ms)."""
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
    status, excerpt, error, retry_after = None, "", "", None
    try:
        answer = webhook_transport.post(
            delivery.endpoint.url,
            body=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            max_bytes=settings.WEBHOOK_RESPONSE_MAX_BYTES,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS,
        )
    except webhook_transport.UnsafeTarget as exc:
        error = f"refused: {exc}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    else:
        status = answer.status
        excerpt = answer.body.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
        retry_after = retry_after_seconds(answer.retry_after, now=timezone.now())
    duration_ms = int((time.monotonic() - started) * 1000)
    return status, excerpt, error[:300], retry_after, duration_ms


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookAttempt | None:
    """Attempt a due delivery once, if no one else is; log it and decide what comes next.

    Return the attempt, or None when there was nothing to do (not due, finished, or
    claimed by another worker). Runs inside the delivery's tenant context.
    """
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    if not delivery.endpoint.enabled:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None, lease_until=None,
            last_error="endpoint disabled",
        )  # fmt: skip
        return None
    attempted_at = timezone.now()
    status, excerpt, error, retry_after, duration_ms = _send(delivery)
    succeeded = status is not None and 200 <= status < 300
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        # Failure counters of one endpoint are written by many deliveries at once.
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        manual = delivery.manual
        delivery.attempts += 1
        attempt = WebhookAttempt.objects.create(
            delivery=delivery, number=delivery.attempts, attempted_at=attempted_at,
            duration_ms=duration_ms, status_code=status, response_excerpt=excerpt, error=error,
            manual=manual,
        )  # fmt: skip
        delivery.last_attempt_at = attempted_at
        delivery.last_status_code = status
        delivery.last_error = error or ("" if succeeded else f"HTTP {status}")
        delivery.lease_until = None
        delivery.manual = False
        delivery.enqueued_at = None
        countdown = None
        if succeeded:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = delivery.delivered_at or attempted_at
            delivery.next_attempt_at = None
            endpoint.failing_since = None
            endpoint.consecutive_failures = 0
        else:
            endpoint.failing_since = endpoint.failing_since or attempted_at
            endpoint.consecutive_failures += 1
            if status == 410:
                # The receiver says it wants no more (Standard Webhooks: disable).
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
                _endpoint_disable(endpoint, reason="the endpoint answered 410 Gone", now=now)
            elif delivery.attempts >= delivery.attempt_limit:
                delivery.status = WebhookDelivery.Status.FAILED
                delivery.next_attempt_at = None
            else:
                delay = webhook_retry_delay(
                    attempt_number=delivery.attempts, retry_after=retry_after
                )
                delivery.next_attempt_at = attempted_at + timedelta(seconds=delay)
                if delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:
                    countdown = delay
                    delivery.enqueued_at = delivery.next_attempt_at
            if endpoint.enabled and not manual and _keeps_failing(endpoint, now):
                _endpoint_disable(
                    endpoint,
                    reason=(
                        f"{endpoint.consecutive_failures} failed attempts in a row since "
                        f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
                    ),
                    now=now,
                )
                if delivery.status == WebhookDelivery.Status.PENDING:
                    delivery.status = WebhookDelivery.Status.FAILED
                    delivery.next_attempt_at = None
                    countdown = None
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
    return attempt


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


def lost_messages_resend(rows: QuerySet, send_task, *, now: datetime, batch: int) -> int:
    """Send again the task of every due row (a delivery, a Greenhouse callback) that no worker
    holds and whose last message should have run ``WEBHOOK_LOST_AFTER_SECONDS`` ago."""
    overdue = now - timedelta(seconds=settings.WEBHOOK_LOST_AFTER_SECONDS)
    due = list(
        rows.filter(status="pending", next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=overdue))
        .order_by("next_attempt_at")
        .values_list("organization_id", "pk")[:batch]
    )
    if not due:
        return 0
    rows.filter(pk__in=[pk for _, pk in due]).update(enqueued_at=now)
    for organization_id, pk in due:
        send_task(organization_id, pk)
    return len(due)


def webhook_deliveries_resend(*, now: datetime, batch: int = 1000) -> int:
    """Re-send lost delivery messages, of every organization; return how many."""
    return lost_messages_resend(WebhookDelivery.all_tenants.all(), _send_task, now=now, batch=batch)
