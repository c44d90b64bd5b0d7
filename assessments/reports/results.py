"""A candidate's result, as the API, webhooks and reports show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from assessments.badges.models import BadgeAward
from assessments.invitations.models import Invitation
from assessments.reports.share_links import report_share_url
from assessments.taking.models import IntegritySignal, QuestionState
from assessments.taking.session import time_used
from assessments.taking.variants import variant_summary

# How a verdict reads in a report (the API keeps the identifiers).
VERDICT_LABELS = {
    "correct": _("Correct"),
    "incorrect": _("Incorrect"),
    "time_up": _("Time ran out"),
    "not_answered": _("Not answered"),
    "pending": _("Being graded"),
    "open": _("Open"),
}


def question_verdict(question: QuestionState, *, session_over: bool) -> str:
    if question.correct:
        return "correct"
    if question.pending:
        return "pending"
    if question.closed_reason == QuestionState.Closed.TIME:
        return "time_up"
    if not session_over and not question.is_closed:
        return "open"
    return "incorrect" if question.attempts_used else "not_answered"


def invitation_result(invitation: Invitation, *, now: datetime) -> dict[str, Any]:
    """Score, per-question outcome and integrity signals of one invitation (4 queries)."""
    questions = list(
        QuestionState.objects.filter(invitation=invitation)
        .select_related("challenge")
        .order_by("position")
    )
    signals = list(
        IntegritySignal.objects.filter(invitation=invitation)
        .select_related("question")
        .order_by("at", "id")
    )
    badge = BadgeAward.objects.filter(invitation=invitation).first()
    session_over = invitation.is_terminal
    score, max_score = invitation.score, invitation.max_score
    if score is None and questions and invitation.status == Invitation.Status.STARTED:
        score = float(sum(q.score * q.challenge.points for q in questions))
    taken = None
    if invitation.started_at:
        taken = ((invitation.completed_at or now) - invitation.started_at).total_seconds()
    return {
        "id": invitation.public_id,
        "status": invitation.status,
        "score": score,
        "max_score": max_score,
        "percent": round(100 * score / max_score, 2) if score is not None and max_score else None,
        "badge_awarded": badge is not None and badge.is_valid,
        "badge_url": settings.SITE_URL + badge.get_absolute_url() if badge else None,
        "started_at": invitation.started_at,
        "completed_at": invitation.completed_at,
        "time_taken_seconds": taken,
        "challenges": [
            {
                "position": q.position,
                "title": q.challenge.title,
                "kind": q.challenge.kind,
                "difficulty": q.challenge.difficulty,
                "verdict": question_verdict(q, session_over=session_over),
                "points": round(q.score * q.challenge.points, 4),
                "max_points": q.challenge.points,
                "attempts_used": q.attempts_used,
                "max_attempts": q.max_attempts,
                "hint_used": q.hint_revealed_at is not None,
                "answered_after_explanation": q.answered_after_explanation,
                "time_used_seconds": time_used(q, now=now),
                "time_limit_seconds": q.time_limit,
                "variant": variant_summary(q),
            }
            for q in questions
        ],
        "integrity_signals": [
            {
                "kind": s.kind,
                "at": s.at,
                "question": s.question.position if s.question else None,
                "detail": s.detail,
            }
            for s in signals
        ],
        "report_url": report_share_url(invitation, now=now)[0],
    }
