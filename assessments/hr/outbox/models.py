"""The columns every outbound message row shares: its attempts, their schedule and the lease.

Webhook deliveries and Greenhouse's completion callbacks are both rows of an outbox: written
in the transaction that decided to send them, then attempted by a Celery task, retried with
backoff, and re-sent by a sweeper if their task message was lost
(``assessments.hr.outbox.delivery``). Each concrete model adds its own status choices (the
shared state machine reads ``pending``, ``succeeded`` and ``failed``), target and
``created_at``.
"""

from __future__ import annotations

from django.db import models

from accounts.tenancy import TenantModel


class OutboxMessage(TenantModel):
    attempts = models.PositiveIntegerField(default=0)
    # Give up once ``attempts`` reaches this; a redelivery by hand allows one more.
    attempt_limit = models.PositiveIntegerField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the last task message for it becomes runnable; the sweeper re-sends a due row
    # whose message is that much overdue (it was lost).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # A worker is attempting it until then (its claim); after that the claim has lapsed.
    lease_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
