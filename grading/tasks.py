"""Celery tasks of grading: run a job (grading queue) and sweep stuck jobs (default queue)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts.tenancy import tenant_context
from grading.execution import JobInterrupted
from grading.jobs import grading_job_fail, grading_job_release, grading_job_run, grading_jobs_sweep
from grading.models import GradingJob
from grading.sandbox.client import SandboxUnavailable

logger = logging.getLogger(__name__)
Reason = GradingJob.FailureReason


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # A backstop only: the job's own delivery count (GRADING_JOB_MAX_DELIVERIES) decides.
    max_retries=50,
    queue="grading",
    routing_key="grading",
)
def run_grading_job(self, *, organization_id: int, job_id: int) -> None:
    """Run one grading job; our failures retry with backoff (bounded), verdicts never do.

    Our failures: the sandbox unreachable or answering nonsense, a job killed by a signal
    it did not cause, or any unexpected error in this worker. Each gives the job back to
    the queue and retries, until the job's deliveries run out; then it is failed with the
    reason, and the caller's callback gives the candidate their attempt back.
    """
    with tenant_context(organization_id):
        try:
            grading_job_run(job_id=job_id)
        except JobInterrupted as exc:
            _retry_or_fail(self, job_id, Reason.INTERRUPTED, f"interrupted: {exc}", exc)
        except SandboxUnavailable as exc:
            error = f"sandbox unavailable: {exc}"
            _retry_or_fail(self, job_id, Reason.SANDBOX_UNAVAILABLE, error, exc)
        except Exception as exc:
            logger.exception("job %s: unexpected error", job_id)
            error = f"unexpected error in the worker: {type(exc).__name__}"
            _retry_or_fail(self, job_id, Reason.INTERNAL_ERROR, error, exc)


def _retry_or_fail(task, job_id: int, reason: str, error: str, exc: Exception) -> None:
    job = grading_job_release(job_id=job_id, error=error)
    out_of_deliveries = job.deliveries >= settings.GRADING_JOB_MAX_DELIVERIES
    if out_of_deliveries or task.request.retries >= task.max_retries:
        grading_job_fail(job_id=job_id, error=error, reason=reason)
        return
    countdown = min(60, 2**task.request.retries)
    logger.warning("job %s: %s; retry in %ss", job_id, error, countdown)
    raise task.retry(exc=exc, countdown=countdown) from exc


@shared_task(queue="default", routing_key="default")
def sweep_stuck_jobs() -> int:
    """Re-send unfinished jobs whose message was lost; fail those out of deliveries or time.

    Return how many jobs were re-sent or failed.
    """
    counts = grading_jobs_sweep(now=timezone.now())
    if any(counts.values()):
        logger.info("stuck grading jobs: %(resent)d re-sent, %(failed)d failed", counts)
    return counts["resent"] + counts["failed"]
