"""Create grading jobs and carry each to exactly one terminal state, stored exactly once.

A job is ``queued``, then ``running`` while a delivery holds it, then ``done`` (a verdict,
whatever the candidate's code did) or ``failed`` (we gave up: its ``failure_reason`` says
why, and every reason is ours). Deliveries are bounded (``GRADING_JOB_MAX_DELIVERIES``), so
no job is retried or re-sent forever. Tasks are sent by name (``RUN_TASK``, the callback):
this module imports neither ``grading.tasks`` nor the Celery app.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.tenancy import tenant_context
from grading.execution import SANDBOX_MESSAGES, JobInterrupted, Outcome, execute
from grading.graders import get_grader
from grading.models import GradingJob
from grading.sandbox.client import SandboxClient
from grading.storable import storable_data, storable_text

__all__ = [
    "SANDBOX_MESSAGES",
    "JobInterrupted",
    "Outcome",
    "execute",
    "grading_job_create",
    "grading_job_fail",
    "grading_job_grade_now",
    "grading_job_release",
    "grading_job_run",
    "sandbox_client",
]

logger = logging.getLogger(__name__)

RUN_TASK = "grading.tasks.run_grading_job"
UNFINISHED = (GradingJob.Status.QUEUED, GradingJob.Status.RUNNING)
Reason = GradingJob.FailureReason


def sandbox_client() -> SandboxClient:
    """Return a client of the configured sandbox server."""
    return SandboxClient(settings.SANDBOX_SOCKET, timeout=settings.SANDBOX_TIMEOUT_SECONDS)


def grading_job_send(*, organization_id: int, job_id: int) -> None:
    """Send a job's task now (callers inside a transaction use ``transaction.on_commit``)."""
    current_app.send_task(
        RUN_TASK,
        kwargs={"organization_id": organization_id, "job_id": job_id},
        queue="grading",
        routing_key="grading",
    )


def grading_job_create(
    *,
    organization_id: int,
    purpose: str,
    answer_format: str,
    payload: dict[str, Any],
    limits: dict[str, Any] | None = None,
    callback: str = "",
    enqueue: bool = True,
) -> GradingJob:
    """Write a job row and send its task once the surrounding transaction commits.

    ``callback`` names a task that is sent (with the organization and job ids) once the
    job reaches a terminal state: results flow back to the caller by message, not by
    import. With ``enqueue`` False the caller runs the job itself with ``grading_job_run``.
    """
    job = GradingJob.all_tenants.create(
        organization_id=organization_id,
        purpose=purpose,
        answer_format=answer_format,
        payload=storable_data({**payload, "callback": callback}),
        limits=limits or {},
    )
    if enqueue:
        transaction.on_commit(
            lambda: grading_job_send(organization_id=organization_id, job_id=job.pk)
        )
    return job


def grading_job_grade_now(
    *, organization_id: int, answer_format: str, payload: dict[str, Any], now: datetime
) -> GradingJob:
    """Grade an answer that runs no code here and now; write its job row done (or failed).

    Choice, value, exception and text answers compare plain data with the key: a worker
    would add a round trip and nothing else. The row is written in the caller's
    transaction, with the fields a worker fills in. An unexpected error while grading is
    ours: the job is stored failed (``internal_error``) and the caller gives the attempt
    back, as for any failed job.
    """
    if get_grader(answer_format).needs_sandbox:
        raise ValueError(f"{answer_format} answers run code: use grading_job_create")
    job = GradingJob(
        organization_id=organization_id,
        purpose=GradingJob.Purpose.ANSWER,
        answer_format=answer_format,
        payload=storable_data(payload),
        status=GradingJob.Status.RUNNING,
        deliveries=1,
        started_at=now,
        claimed_at=now,
        finished_at=now,
    )
    try:
        outcome = execute(job, client=None)
    except Exception:
        logger.exception("grading a %s answer in the request failed", answer_format)
        job.status, job.failure_reason = GradingJob.Status.FAILED, Reason.INTERNAL_ERROR
        job.last_error = "unexpected error while grading in the request (see the log)"
    else:
        job.status = GradingJob.Status.DONE
        job.correct, job.score = outcome.correct, outcome.score
        job.feedback = storable_text(outcome.feedback)
        job.result = storable_data(outcome.result)
    job.save()
    return job


def grading_job_run(*, job_id: int, client: SandboxClient | None = None) -> GradingJob:
    """Run a job unless it is finished or held; store the result exactly once.

    Claiming and storing are each one conditional UPDATE (no explicit lock, no extra round
    trips): only the first UPDATE that finds the job unfinished stores its result, and only
    it sends the callback. A job that used up its deliveries is failed instead of run.
    Raises what ``execute`` raises for failures that are ours; the caller releases the job
    (``grading_job_release``) and retries, or fails it.
    """
    job = _claim(job_id)
    if job is None:
        return _unclaimed(job_id)
    outcome = execute(job, client or sandbox_client())
    fields = {
        "status": GradingJob.Status.DONE,
        "sandbox_verdict": outcome.sandbox_verdict,
        "correct": outcome.correct,
        "score": outcome.score,
        "feedback": outcome.feedback,
        "result": outcome.result,
        "sandbox_wall_ms": outcome.wall_ms,
        "sandbox_cpu_ms": outcome.cpu_ms,
        "finished_at": timezone.now(),
    }
    return _finish(job, fields)


def _claim(job_id: int) -> GradingJob | None:
    """Mark a claimable job running and return it as updated; None if it is not claimable.

    Claimable: unfinished, deliveries left, and not held by another delivery (queued, or
    its last claim older than ``GRADING_JOB_STUCK_SECONDS``), so a duplicate message never
    runs a candidate's code twice at once. One ``UPDATE ... RETURNING`` round trip instead
    of an UPDATE and a SELECT: a job is claimed on every delivery, so this is on the latency
    path of every grade. ``_update`` with ``returning_fields`` is the method Django's own
    ``Model.save`` uses for it; it goes through the tenant-scoped manager.
    """
    now = timezone.now()
    held_until = now - timedelta(seconds=settings.GRADING_JOB_STUCK_SECONDS)
    meta = GradingJob._meta
    values = [
        (meta.get_field("status"), None, GradingJob.Status.RUNNING),
        (meta.get_field("started_at"), None, Coalesce(F("started_at"), Value(now))),
        (meta.get_field("claimed_at"), None, now),
        (meta.get_field("deliveries"), None, F("deliveries") + 1),
    ]
    columns = meta.concrete_fields
    rows = (
        GradingJob.objects.filter(
            pk=job_id, status__in=UNFINISHED, deliveries__lt=settings.GRADING_JOB_MAX_DELIVERIES
        )
        .filter(
            Q(status=GradingJob.Status.QUEUED)
            | Q(claimed_at__isnull=True)
            | Q(claimed_at__lt=held_until)
        )
        ._update(values, returning_fields=columns)
    )
    if not rows:
        return None
    return GradingJob.from_db(GradingJob.objects.db, [field.attname for field in columns], rows[0])


def _unclaimed(job_id: int) -> GradingJob:
    """Return a job this delivery may not run; fail it if it used up its deliveries."""
    job = GradingJob.objects.get(pk=job_id)
    if job.status in UNFINISHED and job.deliveries >= settings.GRADING_JOB_MAX_DELIVERIES:
        return grading_job_fail(
            job_id=job_id,
            error=f"delivered {job.deliveries} times without finishing",
            reason=Reason.DELIVERY_LIMIT,
        )
    return job


def grading_job_release(*, job_id: int, error: str) -> GradingJob:
    """Hand a job this delivery could not finish back to the queue (its count kept)."""
    GradingJob.objects.filter(pk=job_id, status=GradingJob.Status.RUNNING).update(
        status=GradingJob.Status.QUEUED, last_error=storable_text(error[:2000])
    )
    return GradingJob.objects.get(pk=job_id)


def grading_job_fail(
    *, job_id: int, error: str, reason: str = Reason.SANDBOX_UNAVAILABLE
) -> GradingJob:
    """Mark a job failed for a reason of ours (retries or deliveries exhausted), once."""
    job = GradingJob.objects.get(pk=job_id)
    fields = {
        "status": GradingJob.Status.FAILED,
        "failure_reason": reason,
        "last_error": error[:2000],
        "finished_at": timezone.now(),
    }
    return _finish(job, fields)


def _finish(job: GradingJob, fields: dict[str, Any]) -> GradingJob:
    """Store a final state unless the job already has one; send the callback if stored.

    Text from the job is made storable first (PostgreSQL refuses NUL and lone surrogates).
    The UPDATE is a single statement, so it needs no transaction of its own (that took two
    more round trips, BEGIN and COMMIT); the callback is sent on commit: at once in
    autocommit, or when the caller's surrounding transaction commits.
    """
    for name in ("feedback", "last_error"):
        if name in fields:
            fields[name] = storable_text(fields[name])
    if "result" in fields:
        fields["result"] = storable_data(fields["result"])
    stored = GradingJob.objects.filter(pk=job.pk, status__in=UNFINISHED).update(**fields)
    if not stored:
        # Another delivery (or the give-up path) finished it first; keep that outcome.
        return GradingJob.objects.get(pk=job.pk)
    for name, value in fields.items():
        setattr(job, name, value)
    _send_callback(job)
    return job


def _send_callback(job: GradingJob) -> None:
    callback = job.payload.get("callback")
    if not callback:
        return
    organization_id, job_id = job.organization_id, job.pk
    transaction.on_commit(
        lambda: current_app.send_task(
            callback,
            kwargs={"organization_id": organization_id, "job_id": job_id},
            queue="default",
            routing_key="default",
        )
    )


def grading_jobs_sweep(*, now: datetime, limit: int = 1000) -> dict[str, int]:
    """Re-send jobs left unfinished too long; fail those out of deliveries or time.

    A job whose message was lost (a broker restart, a worker killed before it acked) stays
    unfinished; sending it again is harmless because running a job is idempotent. A job
    that used up ``GRADING_JOB_MAX_DELIVERIES``, or is older than
    ``GRADING_JOB_GIVE_UP_SECONDS``, is failed (the callback tells its caller) instead.
    """
    cutoff = now - timedelta(seconds=settings.GRADING_JOB_STUCK_SECONDS)
    give_up = now - timedelta(seconds=settings.GRADING_JOB_GIVE_UP_SECONDS)
    # Crossing tenants is the point: the sweeper looks after every organization's jobs.
    stuck = (
        GradingJob.all_tenants.filter(status__in=UNFINISHED)
        .annotate(last_seen=Coalesce("claimed_at", "requested_at"))
        .filter(last_seen__lt=cutoff)
        .values_list("organization_id", "pk", "deliveries", "requested_at")[:limit]
    )
    counts = {"resent": 0, "failed": 0}
    for organization_id, job_id, deliveries, requested_at in list(stuck):
        if deliveries >= settings.GRADING_JOB_MAX_DELIVERIES or requested_at < give_up:
            reason = Reason.DELIVERY_LIMIT if requested_at >= give_up else Reason.EXPIRED
            with tenant_context(organization_id):
                grading_job_fail(
                    job_id=job_id,
                    error=f"unfinished after {deliveries} deliveries; gave up",
                    reason=reason,
                )
            counts["failed"] += 1
        else:
            grading_job_send(organization_id=organization_id, job_id=job_id)
            counts["resent"] += 1
    return counts
