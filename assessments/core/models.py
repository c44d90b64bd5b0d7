"""Events: what happened to an invitation, written in the transaction that made it happen.

The table is an outbox: webhooks deliver from it, so an event exists exactly when its change
was committed, and a delivery can be retried (or redone by hand) without inventing a second
event.
"""

from __future__ import annotations

import uuid

from django.db import models

from accounts.tenancy import TenantModel


class Event(TenantModel):
    class Type(models.TextChoices):
        INVITATION_STARTED = "invitation.started", "invitation.started"
        INVITATION_COMPLETED = "invitation.completed", "invitation.completed"
        INVITATION_EXPIRED = "invitation.expired", "invitation.expired"
        INVITATION_CANCELLED = "invitation.cancelled", "invitation.cancelled"
        BADGE_AWARDED = "badge.awarded", "badge.awarded"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=Type.choices)
    invitation = models.ForeignKey(
        "assessments.Invitation", null=True, on_delete=models.CASCADE, related_name="events"
    )
    # The body sent to subscribers: {"type", "timestamp", "data"} (Standard Webhooks).
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="event_org_created_idx")
        ]
        constraints = [
            # One event of each type per invitation: a transition happens once.
            models.UniqueConstraint(
                fields=["invitation", "type"], name="event_once_per_invitation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"
