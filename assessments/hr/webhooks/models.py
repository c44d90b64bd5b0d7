"""Webhooks: endpoints an organization subscribes, and the delivery of each event to each.

An event (``assessments.core.models.Event``) is written once, in the transaction of the
change it reports; a delivery row per (event, endpoint) is written in the same transaction,
and every HTTP attempt of it is logged. The delivery, not the attempt, is what the receiver
sees as one message: every attempt carries the event's ``webhook-id``.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantModel
from assessments.core.models import Event
from assessments.hr.outbox import transport
from assessments.hr.outbox.models import OutboxMessage

# Standard Webhooks: a symmetric secret is at least 24 random bytes (at most 64).
SECRET_BYTES = 32


def webhook_secret_new() -> str:
    """Return a new signing secret: ``whsec_`` and the base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def webhook_url_check(url: str) -> None:
    """Refuse a URL the platform may not call: not http(s), or resolving to a non-public
    address (unless ``WEBHOOK_ALLOW_PRIVATE_TARGETS``)."""
    try:
        _scheme, host, port, _path = transport.url_parts(url)
        transport.resolve(host, port, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
    except transport.UnsafeTarget as exc:
        raise ValidationError({"url": str(exc)}, code="unsafe_url") from exc


def webhook_events_check(events: Iterable[str]) -> None:
    """Refuse an empty list of event types, or one with a type that does not exist."""
    events = list(events or [])
    unknown = sorted(set(events) - set(Event.Type.values))
    if unknown:
        raise ValidationError({"events": f"unknown event types: {', '.join(unknown)}"})
    if not events:
        raise ValidationError({"events": "choose at least one event type"})


class WebhookEndpoint(TenantModel):
    """A URL of one organization that receives the events it subscribed to, signed."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(
        max_length=2000,
        help_text=_("http(s) URL that receives a POST for every subscribed event."),
    )
    description = models.CharField(max_length=200, blank=True)
    # A list of Event.Type values; filtered in Python (an organization has few endpoints,
    # and a JSON list keeps the column the same on SQLite and PostgreSQL).
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=120, default=webhook_secret_new, editable=False)
    enabled = models.BooleanField(default=True)
    # Set when the platform disabled the endpoint (it kept failing, or answered 410 Gone);
    # cleared when a member enables it again.
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    # The current run of failed attempts: when it began and how long it is (reset by a 2xx).
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("webhook endpoint")

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        # Checked here so that every ModelForm (the admin's) refuses what the API refuses.
        # An unchanged URL is not resolved again: an endpoint whose host stopped resolving
        # can still be switched off.
        webhook_events_check(self.events)
        saved = type(self).objects.filter(pk=self.pk).values_list("url", flat=True).first()
        if self.url != saved:
            webhook_url_check(self.url)

    @property
    def signing_key(self) -> bytes:
        """The HMAC key: the secret's base64 part, decoded."""
        return base64.b64decode(self.secret.removeprefix("whsec_"))

    def wants(self, event_type: str) -> bool:
        """Return whether this endpoint subscribed to events of ``event_type``."""
        return event_type in self.events


class WebhookDelivery(OutboxMessage):
    """One event to one endpoint: its state, the schedule of its next attempt, its outcome.

    Attempts, schedule and lease are the outbox's columns (``OutboxMessage``)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The next attempt was asked for by hand (it is logged as such and cannot disable).
    manual = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            # The sweeper: pending deliveries by due time.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(status="pending"),
            ),
            # An endpoint's recent deliveries (admin, API).
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_endpoint_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "succeeded", "failed"]),
                name="webhook_delivery_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event.type} → {self.endpoint.url}"

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header: the event's, the same on every attempt and redelivery."""
        return f"msg_{self.event.public_id.hex}"


class WebhookAttempt(TenantModel):
    """One HTTP request of a delivery and what came back (or why nothing did)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    manual = models.BooleanField(default=False, help_text=_("Redelivered by hand."))

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_once"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
