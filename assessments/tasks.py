"""Celery tasks of assessments: react to finished grading jobs."""

from __future__ import annotations

from celery import shared_task

from accounts.tenancy import tenant_context
from assessments.keys import key_check_finish
from assessments.models import KeyCheckJob


@shared_task(acks_late=True, queue="default", routing_key="default")
def key_job_done(*, organization_id: int, job_id: int) -> None:
    """A key job finished: finish its key check if it was the last one (idempotent)."""
    with tenant_context(organization_id):
        link = KeyCheckJob.objects.filter(job_id=job_id).first()
        if link is not None:
            key_check_finish(key_check_id=link.key_check_id)
