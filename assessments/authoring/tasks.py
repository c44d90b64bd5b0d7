"""Celery tasks of authoring: a finished key job finishes its key check.

Task names keep the dotted names they had in ``assessments/tasks.py`` (the grading worker
sends ``key_job_done`` by name as a job's callback, and queued messages carry names).
"""

from __future__ import annotations

from celery import shared_task

from accounts.tenancy import tenant_context
from assessments.authoring.key_checks import CALLBACK, key_check_finish
from assessments.authoring.models import KeyCheckJob


@shared_task(name=CALLBACK, acks_late=True, queue="default", routing_key="default")
def key_job_done(*, organization_id: int, job_id: int) -> None:
    """A key job finished: finish its key check if it was the last one (idempotent)."""
    with tenant_context(organization_id):
        link = KeyCheckJob.objects.filter(job_id=job_id).first()
        if link is not None:
            key_check_finish(key_check_id=link.key_check_id)
