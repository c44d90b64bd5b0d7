"""Record events of invitations (the webhook outbox), in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from assessments.badges.models import BadgeAward
from assessments.core.models import Event
from assessments.invitations.models import Invitation


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
    try:
        with transaction.atomic():
            event = Event.all_tenants.create(
                organization_id=invitation.organization_id,
                type=event_type,
                invitation=invitation,
                payload=payload,
                created_at=now,
            )
    except IntegrityError:
        return None  # this transition was already recorded
    from assessments.hr.greenhouse.services import greenhouse_event_apply
    from assessments.hr.webhooks.services import event_fan_out

    event_fan_out(event)
    greenhouse_event_apply(event)
    return event
