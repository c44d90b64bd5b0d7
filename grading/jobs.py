"""Create and run grading jobs. Running is idempotent: a result is stored exactly once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from grading.graders import AnswerError, get_grader
from grading.graders.code import RESULTS_NAME, build_harness
from grading.models import GradingJob
from grading.sandbox.client import SandboxClient

SANDBOX_MESSAGES = {
    "time_limit": "Your code ran out of time.",
    "memory_limit": "Your code used more memory than allowed.",
    "output_limit": "Your code printed more output than allowed.",
    "forbidden": "Your code tried something the sandbox does not allow.",
    "error": "Your code raised an error.",
}


def sandbox_client() -> SandboxClient:
    """Return a client of the configured sandbox server."""
    return SandboxClient(settings.SANDBOX_SOCKET, timeout=settings.SANDBOX_TIMEOUT_SECONDS)


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
    job's result is stored: results flow back to the caller by message, not by import.
    With ``enqueue`` False the caller runs the job itself with ``grading_job_run``.
    """
    job = GradingJob.all_tenants.create(
        organization_id=organization_id,
        purpose=purpose,
        answer_format=answer_format,
        payload={**payload, "callback": callback},
        limits=limits or {},
    )
    if enqueue:
        from grading.tasks import run_grading_job

        transaction.on_commit(
            lambda: run_grading_job.delay(organization_id=organization_id, job_id=job.pk)
        )
    return job


@dataclass
class Outcome:
    """What running a job produced, before it is stored."""

    sandbox_verdict: str = ""
    correct: bool | None = None
    score: float | None = None
    feedback: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    wall_ms: float | None = None
    cpu_ms: float | None = None


def _sandbox_run(client: SandboxClient, job: GradingJob, code: str, capture=()) -> dict:
    # The job's own limits (keys get generous ones), else the challenge's, else the sandbox's
    # defaults; the sandbox clamps everything to its global maxima.
    limits = job.limits or job.payload.get("config", {}).get("limits") or None
    return client.run(code, job_id=str(job.public_id), capture=capture, limits=limits)


def _timings(response: dict) -> dict[str, float]:
    return {"wall_ms": response.get("wall_ms"), "cpu_ms": response.get("cpu_ms")}


def execute(job: GradingJob, client: SandboxClient) -> Outcome:
    """Do the job's work (in the sandbox where code runs) and return the outcome.

    Raises ``SandboxUnavailable`` for infrastructure failures, which the task retries; a
    candidate's own errors are outcomes, never exceptions.
    """
    payload = job.payload
    if job.purpose == GradingJob.Purpose.SNIPPET:
        response = _sandbox_run(client, job, payload["code"])
        return Outcome(
            sandbox_verdict=response["verdict"],
            result={
                "stdout": response["stdout"],
                "stderr": response["stderr"],
                "exception": response["exception"],
                "torch_version": response["torch_version"],
                "sandbox_error": response.get("sandbox_error"),
            },
            **_timings(response),
        )
    grader = get_grader(job.answer_format)
    config = payload["config"]
    if job.purpose == GradingJob.Purpose.REFERENCE:
        harness = build_harness(source=config["reference"], config=config)
        response = _sandbox_run(client, job, harness, capture=[RESULTS_NAME])
        return Outcome(
            sandbox_verdict=response["verdict"],
            result={
                "expected": response["values"].get(RESULTS_NAME, {}),
                "exception": response["exception"],
                "torch_version": response["torch_version"],
                "sandbox_error": response.get("sandbox_error"),
            },
            **_timings(response),
        )
    # An answer.
    try:
        answer = grader.parse_answer(payload["answer"])
    except AnswerError as exc:
        return Outcome(correct=False, score=0.0, feedback=str(exc))
    if not grader.needs_sandbox:
        verdict = grader.grade(key=payload["key"], config=config, answer=answer)
        return Outcome(
            correct=verdict.correct,
            score=verdict.score,
            feedback=verdict.feedback,
            result={"details": verdict.details},
        )
    response = _sandbox_run(
        client, job, build_harness(source=answer, config=config), [RESULTS_NAME]
    )
    results = response["values"].get(RESULTS_NAME) if response["verdict"] == "ok" else None
    verdict = grader.grade(key=payload["key"], config=config, answer=results or {})
    feedback = verdict.feedback
    if response["verdict"] != "ok":
        feedback = f"{SANDBOX_MESSAGES.get(response['verdict'], 'Your code failed.')} {feedback}"
        if response["exception"]:
            feedback += f" {response['exception']['type']}: {response['exception']['message']}"
    return Outcome(
        sandbox_verdict=response["verdict"],
        correct=verdict.correct,
        score=verdict.score,
        feedback=feedback.strip()[:2000],
        result={"details": verdict.details, "stdout": response["stdout"][:4000]},
        **_timings(response),
    )


UNFINISHED = (GradingJob.Status.QUEUED, GradingJob.Status.RUNNING)


def grading_job_run(*, job_id: int, client: SandboxClient | None = None) -> GradingJob:
    """Run a job unless it already has a result; store the result exactly once.

    Claiming and storing are each one conditional UPDATE (no explicit lock, no extra round
    trips): a redelivered task and the original may both run the job, but only the first
    UPDATE that finds the job unfinished stores its result, and only it sends the callback.
    """
    job = _claim(job_id)
    if job is None:
        return GradingJob.objects.get(pk=job_id)
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
    """Mark an unfinished job running and return it as updated; None if it is finished.

    One ``UPDATE ... RETURNING`` round trip instead of an UPDATE and a SELECT: a job is
    claimed on every delivery, so this is on the latency path of every grade. It goes
    through the tenant-scoped manager like every other query here; ``_update`` with
    ``returning_fields`` is the method Django's own ``Model.save`` uses for it.
    """
    meta = GradingJob._meta
    values = [
        (meta.get_field("status"), None, GradingJob.Status.RUNNING),
        (meta.get_field("started_at"), None, Coalesce(F("started_at"), Value(timezone.now()))),
        (meta.get_field("deliveries"), None, F("deliveries") + 1),
    ]
    columns = meta.concrete_fields
    rows = GradingJob.objects.filter(pk=job_id, status__in=UNFINISHED)._update(
        values, returning_fields=columns
    )
    if not rows:
        return None
    return GradingJob.from_db(GradingJob.objects.db, [field.attname for field in columns], rows[0])


def grading_job_fail(*, job_id: int, error: str) -> GradingJob:
    """Mark a job failed after the infrastructure gave up on it (retries exhausted)."""
    job = GradingJob.objects.get(pk=job_id)
    fields = {
        "status": GradingJob.Status.FAILED,
        "last_error": error[:2000],
        "finished_at": timezone.now(),
    }
    return _finish(job, fields)


def _finish(job: GradingJob, fields: dict[str, Any]) -> GradingJob:
    """Store a final state unless the job already has one; send the callback if stored.

    The UPDATE is a single statement, so it needs no transaction of its own (that took
    two more round trips, BEGIN and COMMIT); the callback is sent on commit: at once in
    autocommit, or when the caller's surrounding transaction commits.
    """
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
    from config.celery import app

    organization_id, job_id = job.organization_id, job.pk
    transaction.on_commit(
        lambda: app.send_task(
            callback,
            kwargs={"organization_id": organization_id, "job_id": job_id},
            queue="default",
            routing_key="default",
        )
    )
