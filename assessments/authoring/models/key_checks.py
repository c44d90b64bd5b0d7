"""Answer-key checks: an author's snippets run in the sandbox before anything is published."""

from __future__ import annotations

import uuid

from django.db import models

from accounts.tenancy import TenantModel


class KeyCheck(TenantModel):
    """One run of a set's snippets to compute and verify its answer keys.

    With purpose ``publish`` a passing check publishes the draft it checked (unless the
    draft changed meanwhile); with ``verify`` it only reports.
    """

    class Purpose(models.TextChoices):
        VERIFY = "verify", "Verify keys"
        PUBLISH = "publish", "Verify and publish"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Could not run"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    challenge_set = models.ForeignKey(
        "assessments.ChallengeSet", on_delete=models.CASCADE, related_name="key_checks"
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # The draft fingerprint the check ran against: publishing refuses a draft that moved on.
    draft_hash = models.CharField(max_length=64)
    # Per challenge: executed output, how each option compares, problems found.
    report = models.JSONField(default=list, blank=True)
    problems = models.JSONField(default=list, blank=True)
    version = models.ForeignKey(
        "assessments.ChallengeSetVersion", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    requested_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} of {self.challenge_set_id} ({self.status})"


class KeyCheckJob(TenantModel):
    """Which grading job computes which challenge's key in a check."""

    key_check = models.ForeignKey(KeyCheck, on_delete=models.CASCADE, related_name="jobs")
    challenge = models.ForeignKey("assessments.Challenge", on_delete=models.CASCADE)
    job = models.OneToOneField("grading.GradingJob", on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.key_check_id}: challenge {self.challenge_id}"
