"""One attempt of a webhook delivery: claim it (one attempt in flight per endpoint), run it
on the worker process's delivery threads, POST the signed event, log the attempt, schedule
the next one or give up, and count the endpoint's run of failures (docs/webhooks.md).
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.hr.outbox.delivery import Reply, attempt_apply, lease_claim, outbox_request
from assessments.hr.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from assessments.hr.webhooks.services import (
    USER_AGENT,
    delivery_task_send,
    event_body,
    webhook_sign,
)

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 1000


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
                partial(delivery_task_send, delivery.organization_id, delivery.pk, countdown)
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
        delivery_task_send(*waiting)


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
