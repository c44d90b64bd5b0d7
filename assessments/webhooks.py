"""Webhook subscriptions and deliveries (being built: see issue 5)."""

from __future__ import annotations

from assessments.models.events import Event


def event_fan_out(event: Event) -> None:
    """Create a delivery of ``event`` for every subscribed endpoint (not built yet)."""
