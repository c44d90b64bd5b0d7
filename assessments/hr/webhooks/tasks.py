"""Celery tasks of webhooks: one delivery attempt, and the sweeper of lost messages.

Task names keep the dotted names they had in ``assessments/tasks.py`` (the beat schedule and
queued messages carry them); ``webhooks.services`` sends ``deliver_webhook`` by name.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.hr.webhooks.attempts import webhook_delivery_dispatch
from assessments.hr.webhooks.services import DELIVER_TASK, webhook_deliveries_resend


@shared_task(
    name=DELIVER_TASK, acks_late=True, queue="default", routing_key="default", time_limit=120
)
def deliver_webhook(*, organization_id: int, delivery_id: int) -> None:
    """Start one webhook delivery's attempt if it is due and nobody holds it (idempotent)."""
    with tenant_context(organization_id):
        webhook_delivery_dispatch(organization_id=organization_id, delivery_id=delivery_id)


@shared_task(
    name="assessments.tasks.sweep_webhook_deliveries", queue="default", routing_key="default"
)
def sweep_webhook_deliveries() -> int:
    """Re-send due webhook deliveries whose message was lost (every organization)."""
    return webhook_deliveries_resend(now=timezone.now())
