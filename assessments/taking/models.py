"""A candidate's session: its questions (one per challenge), answers and integrity signals.

A session belongs to an invitation (``assessments.invitations.models``); its question rows
carry the deadlines the server fixed when each was first opened. Every rule that protects
fairness is enforced here or in ``assessments.taking.session``, never by the page: the page
only displays the clock.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantModel


class VariantStatus(models.TextChoices):
    PREPARING = "preparing", _("Being prepared")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Could not be prepared")


class QuestionState(TenantModel):
    """One challenge of one candidate's session: its clock, attempts and outcome."""

    class Closed(models.TextChoices):
        CORRECT = "correct", _("Answered correctly")
        ATTEMPTS = "attempts", _("No attempts left")
        TIME = "time", _("Time is up")
        SESSION = "session", _("The session ended")
        UNAVAILABLE = "unavailable", _("Could not be prepared (does not count)")

    invitation = models.ForeignKey(
        "assessments.Invitation", on_delete=models.CASCADE, related_name="questions"
    )
    challenge = models.ForeignKey(
        "assessments.PublishedChallenge", on_delete=models.PROTECT, related_name="+"
    )
    position = models.PositiveIntegerField()
    # The challenge's limit times the candidate's multiplier, in whole seconds.
    time_limit = models.PositiveIntegerField()
    max_attempts = models.PositiveSmallIntegerField()
    opened_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    attempts_used = models.PositiveSmallIntegerField(default=0)
    # An answer handed to a worker and not graded yet: no new answer until it is.
    pending = models.BooleanField(default=False)
    hint_revealed_at = models.DateTimeField(null=True, blank=True)
    # When a response first carried the explanation: an answer after it earns nothing.
    explanation_shown_at = models.DateTimeField(null=True, blank=True)
    # An answer was accepted after the explanation was shown (practice mode only: otherwise
    # the explanation waits until no answer is accepted); it blocks the badge.
    answered_after_explanation = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=16, choices=Closed.choices, blank=True)
    correct = models.BooleanField(null=True)
    # The share of the points earned (the best graded attempt), 0..1.
    score = models.FloatField(default=0.0)
    # A variable question (assessments/taking/variants.py): the server's seed (never sent to
    # the candidate) and the variant drawn from it on a worker; it opens only once ready.
    variant_seed = models.CharField(max_length=64, blank=True)
    variant_status = models.CharField(max_length=16, choices=VariantStatus.choices, blank=True)
    variant = models.JSONField(default=dict, blank=True)
    variant_job = models.ForeignKey(
        "grading.GradingJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["invitation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["invitation", "position"], name="question_state_position_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(attempts_used__lte=models.F("max_attempts")),
                name="question_state_attempts_within_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invitation_id} #{self.position}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def attempts_left(self) -> int:
        return self.max_attempts - self.attempts_used


class Answer(TenantModel):
    """An answer a candidate sent, accepted (an attempt) or refused as late."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being graded")
        GRADED = "graded", _("Graded")
        LATE = "late", _("Late")
        FAILED = "failed", _("Could not be graded")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    question = models.ForeignKey(QuestionState, on_delete=models.CASCADE, related_name="answers")
    # Set for accepted answers only: a late answer uses no attempt.
    attempt = models.PositiveSmallIntegerField(null=True, blank=True)
    # The page's nonce: a double-clicked submit sends the same one and counts once.
    submission_id = models.UUIDField()
    raw = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices)
    correct = models.BooleanField(null=True)
    score = models.FloatField(null=True)
    # Sent after the question's explanation was shown: graded, but scores 0.
    after_explanation = models.BooleanField(default=False)
    feedback = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    grading_job = models.OneToOneField(
        "grading.GradingJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField()
    graded_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["question", "submitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "attempt"], name="answer_attempt_unique_per_question"
            ),
            models.UniqueConstraint(
                fields=["question", "submission_id"], name="answer_submission_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question} attempt {self.attempt or 'late'}"


class IntegritySignal(TenantModel):
    """Something worth a reviewer's attention; never a reason to fail a candidate by itself."""

    class Kind(models.TextChoices):
        HINT = "hint", _("Hint revealed")
        FOCUS_LOST = "focus_lost", _("Left the page (tab switch or window change)")
        PASTE = "paste", _("Pasted into an answer")
        IP_CHANGED = "ip_changed", _("IP address changed")
        USER_AGENT_CHANGED = "user_agent_changed", _("Browser changed")
        LATE_ANSWER = "late_answer", _("Answer arrived after the deadline")

    # What the page may report; the others are recorded by the server.
    CLIENT_KINDS = frozenset({Kind.FOCUS_LOST, Kind.PASTE})

    invitation = models.ForeignKey(
        "assessments.Invitation", on_delete=models.CASCADE, related_name="signals"
    )
    question = models.ForeignKey(
        QuestionState, null=True, blank=True, on_delete=models.CASCADE, related_name="signals"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["invitation", "at"]
        indexes = [models.Index(fields=["invitation", "kind"], name="signal_invitation_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.at:%Y-%m-%d %H:%M:%S})"
