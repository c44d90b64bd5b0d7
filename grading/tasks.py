"""Celery tasks of grading: run a job (grading queue) and sweep stuck jobs (default queue)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts.tenancy import tenant_context
from grading.jobs import grading_job_fail, grading_job_run
from grading.models import GradingJob
from grading.sandbox.client import SandboxUnavailable

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=8,
    queue="grading",
    routing_key="grading",
)
def run_grading_job(self, *, organization_id: int, job_id: int) -> None:
    """Run one grading job; infrastructure failures retry with backoff, verdicts never do."""
    with tenant_context(organization_id):
        try:
            grading_job_run(job_id=job_id)
        except SandboxUnavailable as exc:
            if self.request.retries >= self.max_retries:
                grading_job_fail(job_id=job_id, error=f"sandbox unavailable: {exc}")
                return
            countdown = min(60, 2**self.request.retries)
            logger.warning("job %s: sandbox unavailable (%s); retry in %ss", job_id, exc, countdown)
            raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(queue="default", routing_key="default")
def sweep_stuck_jobs() -> int:
    """Re-send jobs still queued or running long after they were requested; return how many.

    A job whose message was lost (a broker restart, a worker killed before it acked) stays
    unfinished; sending it again is harmless because running a job is idempotent.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.GRADING_JOB_STUCK_SECONDS)
    stuck = list(
        GradingJob.all_tenants.filter(
            status__in=[GradingJob.Status.QUEUED, GradingJob.Status.RUNNING],
            requested_at__lt=cutoff,
        ).values_list("organization_id", "pk")[:1000]
    )
    for organization_id, job_id in stuck:
        run_grading_job.delay(organization_id=organization_id, job_id=job_id)
    if stuck:
        logger.info("re-sent %d stuck grading jobs", len(stuck))
    return len(stuck)
