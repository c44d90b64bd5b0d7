"""The PATCH that tells Greenhouse a candidate completed its test (docs/greenhouse.md).

One row per invitation Greenhouse sent. It is written by ``send_test`` (``waiting``),
armed by the invitation's ``invitation.completed`` event (``pending``, in the event's
transaction), and then attempted and retried by the outbox, like a webhook delivery. Greenhouse
authenticates the PATCH with the organization's API key, which the platform otherwise
stores only hashed: the key Greenhouse used is kept here encrypted, and only until the
PATCH is delivered or no longer needed.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from assessments.hr.outbox.models import OutboxMessage


class GreenhouseCallback(OutboxMessage):
    # Attempts, schedule and lease are the outbox's columns (``OutboxMessage``).

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for the candidate")
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not needed (expired or cancelled)")

    invitation = models.OneToOneField(
        "assessments.Invitation", on_delete=models.CASCADE, related_name="greenhouse_callback"
    )
    # The key Greenhouse called send_test with; a key revoked since is not sent.
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # That key, encrypted (Fernet, a key derived from SECRET_KEY); emptied once not needed.
    credential = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    # Set when the callback is armed (the invitation completed); 0 while it waits.
    attempt_limit = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweeper: pending callbacks by due time.
            models.Index(
                fields=["next_attempt_at"],
                name="greenhouse_callback_due_idx",
                condition=models.Q(status="pending"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["waiting", "pending", "succeeded", "failed", "skipped"]
                ),
                name="greenhouse_callback_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Greenhouse PATCH for {self.invitation_id}: {self.status}"
