"""Badges: awarded when a finished session meets its set's criteria, public once awarded."""

from __future__ import annotations

from datetime import datetime

from assessments.models.candidates import BadgeAward, Invitation, QuestionState


def badge_earned(questions: list[QuestionState]) -> bool:
    """The criteria: every question answered correctly (the seed's "all challenges correct")."""
    return bool(questions) and all(q.correct for q in questions)


def badge_award_if_earned(
    invitation: Invitation, questions: list[QuestionState], *, now: datetime
) -> BadgeAward | None:
    """Award the badge of a completed session that earned it; at most one per invitation."""
    if invitation.status != Invitation.Status.COMPLETED or not badge_earned(questions):
        return None
    award, _ = BadgeAward.objects.get_or_create(
        invitation=invitation,
        defaults={
            "organization_id": invitation.organization_id,
            "version_id": invitation.version_id,
            "recipient_name": invitation.full_name,
            "recipient_email": invitation.email,
            "score": invitation.score or 0.0,
            "max_score": invitation.max_score or 0.0,
            "awarded_at": now,
        },
    )
    return award
