"""The candidate side: invitations, the questions of a session, answers, signals and badges.

An invitation is the candidate's session: it points at a frozen version, and its question
rows (one per challenge) carry the deadlines the server fixed when each was first opened.
Every rule that protects fairness is enforced here or in ``assessments.taking``, never by the
page: the page only displays the clock.
"""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantModel

TIME_MULTIPLIER_RANGE = (Decimal("1.00"), Decimal("4.00"))


def _candidate_token() -> str:
    # 256 bits: the link is the candidate's only credential.
    return secrets.token_urlsafe(32)


def _shuffle_seed() -> int:
    return secrets.randbits(31)


class Invitation(TenantModel):
    """One candidate invited to take one published version, and their session."""

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        STARTED = "started", _("Started")
        COMPLETED = "completed", _("Completed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    class Source(models.TextChoices):
        DIRECT = "direct", _("Invited here or through the API")
        GREENHOUSE = "greenhouse", _("Sent by Greenhouse")

    TERMINAL = frozenset({Status.COMPLETED, Status.EXPIRED, Status.CANCELLED})

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    version = models.ForeignKey(
        "assessments.ChallengeSetVersion", on_delete=models.PROTECT, related_name="invitations"
    )
    email = models.EmailField()
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    external_id = models.CharField(
        max_length=200, blank=True, help_text=_("The candidate's id in an HR system.")
    )
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.DIRECT, editable=False
    )
    # Where Greenhouse wants its PATCH when the candidate completes (docs/greenhouse.md);
    # it names one take-home test on their side, so a retried send_test finds it again.
    partner_callback_url = models.URLField(max_length=2000, blank=True, editable=False)
    token = models.CharField(max_length=64, unique=True, default=_candidate_token, editable=False)
    expires_at = models.DateTimeField(help_text=_("The link cannot be used to start after this."))
    time_multiplier = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[
            MinValueValidator(TIME_MULTIPLIER_RANGE[0]),
            MaxValueValidator(TIME_MULTIPLIER_RANGE[1]),
        ],
        help_text=_("Scales every timer, e.g. 1.5 for an accessibility accommodation."),
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    shuffle_seed = models.IntegerField(default=_shuffle_seed, editable=False)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The overall deadline (set's time limit times the multiplier), fixed at start.
    deadline = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    max_score = models.FloatField(null=True, blank=True)
    # Where the session started from, to notice a change of device or network.
    start_ip = models.GenericIPAddressField(null=True, blank=True)
    start_user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "status"], name="invitation_org_status_idx"),
            models.Index(fields=["organization", "external_id"], name="invitation_org_extid_idx"),
            models.Index(fields=["organization", "updated_at"], name="invitation_org_updated_idx"),
            # The sweeper: open invitations past their expiry, sessions past their deadline.
            models.Index(
                fields=["status", "expires_at"],
                name="invitation_open_idx",
                condition=models.Q(status__in=["invited", "started"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["invited", "started", "completed", "expired", "cancelled"]
                ),
                name="invitation_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(time_multiplier__gte=TIME_MULTIPLIER_RANGE[0])
                & models.Q(time_multiplier__lte=TIME_MULTIPLIER_RANGE[1]),
                name="invitation_time_multiplier_range",
            ),
            # A retried send_test: one invitation per Greenhouse take-home test (and the
            # lookup of send_test's idempotency).
            models.UniqueConstraint(
                fields=["organization", "partner_callback_url"],
                condition=~models.Q(partner_callback_url=""),
                name="invitation_partner_callback_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    def candidate_path(self) -> str:
        from django.urls import reverse

        return reverse("take:landing", args=[self.token])


class QuestionState(TenantModel):
    """One challenge of one candidate's session: its clock, attempts and outcome."""

    class Closed(models.TextChoices):
        CORRECT = "correct", _("Answered correctly")
        ATTEMPTS = "attempts", _("No attempts left")
        TIME = "time", _("Time is up")
        SESSION = "session", _("The session ended")

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="questions")
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
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=16, choices=Closed.choices, blank=True)
    correct = models.BooleanField(null=True)
    # The share of the points earned (the best graded attempt), 0..1.
    score = models.FloatField(default=0.0)

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

    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="signals")
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


class BadgeAward(TenantModel):
    """A badge earned by completing a set's criteria; public at ``/badges/<public_id>/``."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invitation = models.OneToOneField(Invitation, on_delete=models.PROTECT, related_name="badge")
    version = models.ForeignKey(
        "assessments.ChallengeSetVersion", on_delete=models.PROTECT, related_name="+"
    )
    recipient_name = models.CharField(max_length=300)
    recipient_email = models.EmailField()
    score = models.FloatField()
    max_score = models.FloatField()
    awarded_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=300, blank=True)
    revoked_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The signed OpenBadgeCredential (VC-JWT), fixed when issued: a later key rotation
    # leaves it as it was, signed by the key named in its header (docs/badges.md).
    credential_jwt = models.TextField(blank=True, editable=False)
    # Deleting a retired key is deliberate: its credentials then no longer verify.
    signing_key = models.ForeignKey(
        "assessments.BadgeSigningKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="credentials",
        editable=False,
    )

    class Meta:
        ordering = ["-awarded_at"]
        indexes = [
            # The organization's revocation list: its revoked awards.
            models.Index(
                fields=["organization", "revoked_at"],
                name="badge_award_revoked_idx",
                condition=models.Q(revoked_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version.title}: {self.recipient_name}"

    @property
    def is_valid(self) -> bool:
        return self.revoked_at is None

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("badge-detail", args=[self.public_id])
