"""An invitation: one candidate invited to take one published version, and their session.

The invitation's token in the candidate's link is their only credential; its status and
lifecycle timestamps are the session's (started, completed, expired, cancelled).
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
# How far ahead an invitation may expire: a link alive for years is a typo (9999-12-31), or a
# credential nobody remembers having handed out.
INVITATION_MAX_DAYS = 365


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
