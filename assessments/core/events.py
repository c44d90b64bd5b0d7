"""Record events of invitations in the caller's transaction, and tell their subscribers.

The core knows no subscriber: the HR edge (webhooks' fan-out, Greenhouse's callback) calls
``event_subscribe`` from ``AssessmentsConfig.ready``, and every recorded event is handed to
each subscriber, in order, inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.tenancy import tenant_context_of
from assessments.core.models import Event

if TYPE_CHECKING:  # the features sit above the core; only their types are named here
    from assessments.badges.models import BadgeAward
    from assessments.invitations.models import Invitation

EventSubscriber = Callable[[Event], object]
_subscribers: list[EventSubscriber] = []


def event_subscribe(subscriber: EventSubscriber) -> None:
    """Call ``subscriber(event)`` for every event recorded from now on (once, however often
    it is subscribed)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def invitation_data(invitation: Invitation) -> dict[str, Any]:
    """The invitation as events and the API show it."""
    version = invitation.version
    return {
        "id": str(invitation.public_id),
        "status": invitation.status,
        "assessment": str(version.challenge_set.public_id),
        "assessment_version": version.number,
        "candidate": {
            "email": invitation.email,
            "first_name": invitation.first_name,
            "last_name": invitation.last_name,
            "external_id": invitation.external_id,
        },
        "url": settings.SITE_URL + invitation.candidate_path(),
        "expires_at": _iso(invitation.expires_at),
        "started_at": _iso(invitation.started_at),
        "completed_at": _iso(invitation.completed_at),
        "score": invitation.score,
        "max_score": invitation.max_score,
    }


def event_record(
    event_type: str, *, invitation: Invitation, now: datetime, badge: BadgeAward | None = None
) -> Event | None:
    """Write the event for a transition of ``invitation`` (once per invitation and type)."""
    data: dict[str, Any] = {"invitation": invitation_data(invitation)}
    if badge is not None:
        data["badge"] = {
            "id": str(badge.public_id),
            "url": settings.SITE_URL + badge.get_absolute_url(),
            "awarded_at": _iso(badge.awarded_at),
        }
    payload = {"type": event_type, "timestamp": _iso(now), "data": data}
    # Sweepers record events with no organization in context; requests with the invitation's.
    with tenant_context_of(invitation.organization_id):
        try:
            with transaction.atomic():
                event = Event.objects.create(
                    type=event_type, invitation=invitation, payload=payload, created_at=now
                )
        except IntegrityError:
            return None  # this transition was already recorded
        for subscriber in _subscribers:
            subscriber(event)
    return event
