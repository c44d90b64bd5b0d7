"""Grading jobs: one row per piece of work sent to a worker, with its whole lifecycle."""

from __future__ import annotations

import uuid

from django.db import models

from accounts.tenancy import TenantModel


class GradingJob(TenantModel):
    """A unit of grading work: grade an answer, or run an author's code to compute a key.

    The row is written in the same transaction as whatever asked for it and the task is sent
    on commit, so a job can be re-sent but never lost; ``result_stored_at`` makes storing the
    result happen exactly once however many times the task is delivered.
    """

    class Purpose(models.TextChoices):
        ANSWER = "answer", "Grade an answer"
        SNIPPET = "snippet", "Run a snippet (predict-output or debug key)"
        REFERENCE = "reference", "Run a reference solution (code key)"
        VARIANT = "variant", "Draw variants (variables, key and options by execution)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"  # we gave up (see FailureReason); never a candidate's fault

    class FailureReason(models.TextChoices):
        """Why a job failed. Every reason is ours: a candidate's own failure is a verdict
        (status done, no credit), so a failed job must never cost a candidate an attempt."""

        SANDBOX_UNAVAILABLE = "sandbox_unavailable", "Sandbox unavailable"
        INTERRUPTED = "interrupted", "Killed by a signal the job did not cause"
        INTERNAL_ERROR = "internal_error", "Unexpected error in the worker"
        DELIVERY_LIMIT = "delivery_limit", "Delivered too many times without finishing"
        EXPIRED = "expired", "Unfinished for too long"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    answer_format = models.CharField(max_length=20)
    # What the job needs: the answer (or code), the key and the grader's configuration.
    payload = models.JSONField(default=dict)
    limits = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Sandbox verdict: ok, error, time_limit, memory_limit, output_limit, forbidden ("" when
    # nothing ran in the sandbox).
    sandbox_verdict = models.CharField(max_length=16, blank=True)
    correct = models.BooleanField(null=True)
    score = models.FloatField(null=True)
    feedback = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    # Set with status failed (and only then): the caller refunds or reopens on any value.
    failure_reason = models.CharField(max_length=24, choices=FailureReason.choices, blank=True)
    # Claims so far, retries included; bounded by GRADING_JOB_MAX_DELIVERIES.
    deliveries = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The latest claim: a running job claimed recently is left to the worker running it.
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    sandbox_wall_ms = models.FloatField(null=True)
    sandbox_cpu_ms = models.FloatField(null=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            # The sweeper: unfinished jobs older than a timeout, across organizations.
            models.Index(
                fields=["status", "requested_at"],
                name="grading_job_unfinished_idx",
                condition=models.Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.public_id} ({self.status})"
