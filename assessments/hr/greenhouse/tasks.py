"""Celery tasks of Greenhouse: one completion PATCH attempt, and the sweeper of lost messages.

Task names keep the dotted names they had in ``assessments/tasks.py`` (the beat schedule and
queued messages carry them); ``greenhouse.services`` sends the attempt task by name.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.hr.greenhouse.services import (
    DELIVER_TASK,
    greenhouse_callback_attempt,
    greenhouse_callbacks_resend,
)


@shared_task(
    name=DELIVER_TASK, acks_late=True, queue="default", routing_key="default", time_limit=120
)
def deliver_greenhouse_callback(*, organization_id: int, callback_id: int) -> None:
    """PATCH Greenhouse's callback URL of a completed test if due and unheld (idempotent)."""
    with tenant_context(organization_id):
        greenhouse_callback_attempt(callback_id=callback_id)


@shared_task(
    name="assessments.tasks.sweep_greenhouse_callbacks", queue="default", routing_key="default"
)
def sweep_greenhouse_callbacks() -> int:
    """Re-send due Greenhouse callbacks whose message was lost (every organization)."""
    return greenhouse_callbacks_resend(now=timezone.now())
