"""One delivery state machine for every outbound message (webhooks, Greenhouse callbacks).

- ``lease_claim`` lets exactly one worker attempt a due row, however many task messages
  race for it (a sweeper re-send, a broker redelivery).
- ``attempt_apply`` writes the outcome of one HTTP attempt onto the locked row: success,
  giving up (410 Gone or the attempt limit), or the next attempt with exponential backoff
  and jitter, never sooner than ``Retry-After``. Short waits go to the broker as a
  countdown; long ones are left to the sweeper.
- ``lost_messages_resend`` (the sweepers' body) re-sends due rows whose message was lost.
- ``outbox_task_send`` sends a row's task by name: the tasks modules import the services
  that call this, so importing the task here would close a loop.
"""

from __future__ import annotations

import http.client
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.core.tasks import task_send
from assessments.hr.outbox import transport
from assessments.hr.outbox.models import OutboxMessage

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


@dataclass(frozen=True)
class Reply:
    """What one attempt got back: an HTTP status, or an error instead of one."""

    status: int | None
    error: str = ""
    retry_after: float | None = None
    body: bytes = b""

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def outbox_request(method: str, url: str, *, body: bytes, headers: dict[str, str]) -> Reply:
    """Send one request to a subscriber's URL through the SSRF-safe transport.

    Every way it can fail becomes a ``Reply`` with an error: a refused target, a network
    error or a broken HTTP answer.
    """
    try:
        answer = transport.send(
            method,
            url,
            body=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
            max_bytes=settings.WEBHOOK_RESPONSE_MAX_BYTES,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS,
        )
    except transport.UnsafeTarget as exc:
        return Reply(None, f"refused: {exc}"[:300])
    except (OSError, http.client.HTTPException) as exc:
        return Reply(None, f"{type(exc).__name__}: {exc}"[:300])
    retry_after = retry_after_seconds(answer.retry_after, now=timezone.now())
    return Reply(answer.status, "", retry_after, answer.body)


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


def retry_delay(*, attempt_number: int, retry_after: float | None = None) -> float:
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


def lease_claim(rows: QuerySet, now: datetime) -> bool:
    """Take a pending, due row for one attempt; return whether this caller got it.

    Duplicate messages (a sweeper re-send, a broker redelivery) race for the same row: one
    conditional update lets exactly one of them attempt it, holding it for a lease long
    enough for the attempt.
    """
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3 + 30)
    return bool(
        rows.filter(
            status=PENDING,
            # A countdown may fire a little early by the database's clock.
            next_attempt_at__lte=now + timedelta(seconds=1),
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease)
    )


def attempt_apply(row: OutboxMessage, reply: Reply, *, attempted_at: datetime) -> float | None:
    """Write the outcome of one attempt onto ``row`` (locked, not saved); return the
    countdown of the next attempt's task, or None when no task is to be sent now."""
    row.attempts += 1
    row.last_attempt_at = attempted_at
    row.last_status_code = reply.status
    row.last_error = reply.error or ("" if reply.succeeded else f"HTTP {reply.status}")
    row.lease_until = None
    row.enqueued_at = None
    if reply.succeeded:
        row.status = SUCCEEDED
        row.delivered_at = row.delivered_at or attempted_at
        row.next_attempt_at = None
        return None
    # 410: the receiver says it wants no more (Standard Webhooks: stop).
    if reply.status == 410 or row.attempts >= row.attempt_limit:
        row.status = FAILED
        row.next_attempt_at = None
        return None
    delay = retry_delay(attempt_number=row.attempts, retry_after=reply.retry_after)
    row.next_attempt_at = attempted_at + timedelta(seconds=delay)
    if delay > settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:
        return None  # the sweeper sends it when due
    row.enqueued_at = row.next_attempt_at
    return delay


def outbox_task_send(
    task_name: str,
    *,
    organization_id: int,
    row_kwarg: str,
    row_id: int,
    countdown: float | None = None,
) -> None:
    """Send the attempt task ``task_name`` for one row (queue ``default``)."""
    task_send(
        task_name, countdown=countdown, organization_id=organization_id, **{row_kwarg: row_id}
    )


def lost_messages_resend(
    model: type[OutboxMessage],
    send_task: Callable[[int, int], None],
    *,
    now: datetime,
    batch: int,
) -> int:
    """Send again the task of every due row, of every organization, that no worker holds and
    whose last message should have run ``WEBHOOK_LOST_AFTER_SECONDS`` ago; return how many."""
    overdue = now - timedelta(seconds=settings.WEBHOOK_LOST_AFTER_SECONDS)
    # Crossing tenants is the point of this read: one sweeper serves every organization.
    due = list(
        model.all_tenants.filter(status=PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=overdue))
        .order_by("next_attempt_at")
        .values_list("organization_id", "pk")[:batch]
    )
    if not due:
        return 0
    by_organization: dict[int, list[int]] = {}
    for organization_id, pk in due:
        by_organization.setdefault(organization_id, []).append(pk)
    for organization_id, pks in by_organization.items():
        # The write stays scoped: each organization's rows in its own context.
        with tenant_context(organization_id):
            model.objects.filter(pk__in=pks).update(enqueued_at=now)
    for organization_id, pk in due:
        send_task(organization_id, pk)
    return len(due)
