"""Taking a test: the rules of a candidate's session, kept by the server.

The page shows a countdown, but only the deadlines stored here count: a question's deadline
is fixed when it is first opened, and an answer after it (plus ``ANSWER_GRACE_SECONDS`` for
the network) is recorded as late and refused (``assessments.taking.answering`` judges answers).
This module keeps the session: starting it, opening questions, closing what the clock has
closed, completing it, hints and integrity signals. Every function takes ``now`` so the
clock can be moved in tests without patching.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils.translation import gettext as _

from assessments.authoring.models import ChallengeSetVersion, PublishedChallenge
from assessments.authoring.selectors import published_challenges, published_version
from assessments.core.choices import FeedbackPolicy, Navigation
from assessments.core.events import event_record
from assessments.core.models import Event
from assessments.invitations.models import Invitation
from assessments.taking.models import IntegritySignal, QuestionState
from assessments.taking.variants import (
    session_challenges,
    variant_challenge,
    variant_not_ready_message,
    variants_request,
)

# A page may report at most this many focus and paste signals per session.
MAX_CLIENT_SIGNALS = 500


class TakingError(Exception):
    """A request the rules refuse; ``status`` is the HTTP status a view answers with."""

    status = 409
    # Seconds after which the page should ask again (a question still being prepared).
    retry_after: int | None = None

    def __init__(self, message: str, *, status: int | None = None, retry_after=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.retry_after = retry_after


class OutOfOrder(TakingError):
    """A later question of a sequential set was asked for; ``current`` is the one to answer."""

    status = 403

    def __init__(self, message: str, *, current: int | None):
        super().__init__(message)
        self.current = current


def grace() -> timedelta:
    return timedelta(seconds=settings.ANSWER_GRACE_SECONDS)


def invitation_for_token(token: str) -> Invitation | None:
    """Return the invitation a candidate link names, whatever its organization."""
    if not token or len(token) > 64:
        return None
    # A token lookup: the candidate's link names no organization until it is found.
    invitation = Invitation.all_tenants.select_related("organization").filter(token=token).first()
    if invitation is not None:
        invitation.version = published_version(
            organization_id=invitation.organization_id, version_id=invitation.version_id
        )
    return invitation


# Starting and the session's lifecycle.


def session_start(
    invitation: Invitation, *, now: datetime, ip: str | None = None, user_agent: str = ""
) -> Invitation:
    """Begin the session: create its questions and fix the overall deadline (idempotent)."""
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.status == Invitation.Status.STARTED:
            return locked
        if locked.status != Invitation.Status.INVITED:
            raise TakingError(_("This test can no longer be started."), status=410)
        if locked.expires_at <= now:
            _expire(locked, now)  # kept: the block ends normally, the refusal comes after
        else:
            _begin(locked, now=now, ip=ip, user_agent=user_agent)
    if locked.status == Invitation.Status.EXPIRED:
        raise TakingError(_("This invitation has expired."), status=410)
    return locked


def _begin(locked: Invitation, *, now: datetime, ip: str | None, user_agent: str) -> None:
    """Create the session's questions and fix its overall deadline (row lock held)."""
    version = locked.version
    multiplier = float(locked.time_multiplier)
    challenges = list(PublishedChallenge.objects.filter(version=version).order_by("position"))
    # A pool fills one position, so the session's positions count its questions.
    challenges = session_challenges(locked, challenges)
    questions = QuestionState.objects.bulk_create(
        QuestionState(
            organization_id=locked.organization_id,
            invitation=locked,
            challenge=challenge,
            position=position,
            time_limit=math.ceil(challenge.time_limit * multiplier),
            max_attempts=challenge.max_attempts,
        )
        for position, challenge in enumerate(challenges, start=1)
    )
    variants_request(locked, questions)
    locked.status = Invitation.Status.STARTED
    locked.started_at = now
    locked.start_ip = ip
    locked.start_user_agent = (user_agent or "")[:400]
    locked.max_score = float(sum(c.points for c in challenges))
    if version.time_limit:
        locked.deadline = now + timedelta(seconds=math.ceil(version.time_limit * multiplier))
    locked.save()
    event_record(Event.Type.INVITATION_STARTED, invitation=locked, now=now)


def _expire(invitation: Invitation, now: datetime) -> None:
    expired = Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.INVITED).update(
        status=Invitation.Status.EXPIRED, updated_at=now
    )
    invitation.status = Invitation.Status.EXPIRED
    if expired:
        event_record(Event.Type.INVITATION_EXPIRED, invitation=invitation, now=now)


def session_questions(invitation: Invitation) -> list[QuestionState]:
    """The session's questions in order, with their (frozen, shared) challenges."""
    questions = list(QuestionState.objects.filter(invitation=invitation).order_by("position"))
    challenges = published_challenges(
        organization_id=invitation.organization_id, version_id=invitation.version_id
    )
    for question in questions:
        question.challenge = challenges[question.challenge_id]
    return questions


def session_sync(invitation: Invitation, *, now: datetime) -> list[QuestionState]:
    """Close what the clock has closed, complete the session if it is over; return questions.

    Called on every request of a started session, and by the periodic sweeper for sessions
    nobody looks at any more, so the stored state never lags what the clock says.
    """
    questions = session_questions(invitation)
    if invitation.status != Invitation.Status.STARTED:
        return questions
    overdue = [q for q in questions if not q.is_closed and time_is_up(invitation, q, now)]
    if overdue:
        with transaction.atomic():
            for question in overdue:
                question_close(question, QuestionState.Closed.TIME, now, only_if_open=True)
        questions = session_questions(invitation)
    session_complete_if_over(invitation, questions, now)
    return questions


def time_is_up(invitation: Invitation, question: QuestionState, now: datetime) -> bool:
    if question.deadline is not None and now > question.deadline + grace():
        return True
    return invitation.deadline is not None and now > invitation.deadline + grace()


def question_close(
    question: QuestionState, reason: str, now: datetime, *, only_if_open: bool
) -> None:
    rows = QuestionState.objects.filter(pk=question.pk)
    if only_if_open:
        rows = rows.filter(closed_at__isnull=True)
    if rows.update(closed_at=now, closed_reason=reason):
        question.closed_at, question.closed_reason = now, reason


def session_complete_if_over(
    invitation: Invitation, questions: list[QuestionState], now: datetime
) -> None:
    if any(q.pending for q in questions):
        return  # a verdict is on its way; the callback completes the session
    session_over = invitation.deadline is not None and now > invitation.deadline + grace()
    if invitation.started_at is not None:
        too_old = now > invitation.started_at + timedelta(seconds=settings.SESSION_MAX_SECONDS)
        session_over = session_over or too_old
    if not session_over and not all(q.is_closed for q in questions):
        return
    session_complete(invitation, now=now)


def session_complete(invitation: Invitation, *, now: datetime) -> Invitation:
    """Close every question, score the session and award the badge (exactly once)."""
    from assessments.badges.services import badge_award_if_earned

    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.status != Invitation.Status.STARTED:
            return locked
        QuestionState.objects.filter(invitation=locked, closed_at__isnull=True).update(
            closed_at=now, closed_reason=QuestionState.Closed.SESSION
        )
        questions = session_questions(locked)
        locked.score = float(sum(q.score * q.challenge.points for q in questions))
        locked.status = Invitation.Status.COMPLETED
        locked.completed_at = now
        locked.save(update_fields=["score", "status", "completed_at", "updated_at"])
        event_record(Event.Type.INVITATION_COMPLETED, invitation=locked, now=now)
        award = badge_award_if_earned(locked, questions, now=now)
        if award is not None:
            event_record(Event.Type.BADGE_AWARDED, invitation=locked, badge=award, now=now)
    invitation.status, invitation.score = locked.status, locked.score
    invitation.completed_at = locked.completed_at
    return locked


def current_position(invitation: Invitation, questions: list[QuestionState]) -> int | None:
    """The question a sequential session is on (the first one not closed), else None."""
    for question in questions:
        if not question.is_closed:
            return question.position
    return None


# One question.


def question_open(
    invitation: Invitation, questions: list[QuestionState], position: int, *, now: datetime
) -> QuestionState:
    """Show a question, fixing its deadline the first time it is opened."""
    question = next((q for q in questions if q.position == position), None)
    if question is None:
        raise TakingError(_("There is no such question."), status=404)
    if (not_ready := variant_not_ready_message(question)) is not None:
        # Not opened, so its clock does not start; a voided question is never shown.
        preparing = not question.is_closed
        raise TakingError(not_ready, status=503, retry_after=2 if preparing else None)
    if question.opened_at is not None or question.is_closed:
        return question
    if invitation.status != Invitation.Status.STARTED:
        raise TakingError(_("This test is over."), status=410)
    sequential = invitation.version.navigation == Navigation.SEQUENTIAL
    current = current_position(invitation, questions)
    if sequential and position != current:
        raise OutOfOrder(_("Answer the questions in order."), current=current)
    deadline = now + timedelta(seconds=question.time_limit)
    if invitation.deadline is not None:
        deadline = min(deadline, invitation.deadline)
    # Two tabs opening the question at once fix one deadline: the first UPDATE wins.
    QuestionState.objects.filter(pk=question.pk, opened_at__isnull=True).update(
        opened_at=now, deadline=deadline
    )
    question.refresh_from_db(fields=["opened_at", "deadline"])
    return question


def shuffled_options(invitation: Invitation, challenge: PublishedChallenge) -> list[dict]:
    """The options as this candidate sees them: id and text, in a stable per-candidate order."""
    options = [{"id": o["id"], "text": o["text"]} for o in challenge.options]
    random.Random(f"{invitation.shuffle_seed}:{challenge.public_id}").shuffle(options)  # noqa: S311
    return options


def hint_reveal(invitation: Invitation, question: QuestionState, *, now: datetime) -> str:
    """Return the hint, recording the first reveal as an integrity signal."""
    hint = variant_challenge(question).hint
    if not hint:
        raise TakingError(_("This question has no hint."), status=404)
    if question.opened_at is None:
        raise TakingError(_("Open the question first."), status=403)
    with transaction.atomic():
        revealed = QuestionState.objects.filter(
            pk=question.pk, hint_revealed_at__isnull=True
        ).update(hint_revealed_at=now)
        if revealed:
            question.hint_revealed_at = now
            signal_add(invitation, IntegritySignal.Kind.HINT, question=question, now=now)
    return hint


def explanation_visible(version: ChallengeSetVersion, question: QuestionState) -> bool:
    """Whether the rules let the candidate read the explanation now."""
    if question.is_closed:
        return True
    if version.feedback == FeedbackPolicy.AFTER_WRONG_ANSWER:
        return question.attempts_used > 0 and question.correct is False
    return False


def explanation_show(invitation: Invitation, question: QuestionState, *, now: datetime) -> bool:
    """Return whether a response may carry the explanation; record the first time it does.

    The record is what makes practice mode honest: an answer accepted after it scores 0
    (``taking.answering``). Conditional UPDATE: two responses at once record one time.
    """
    if not question.challenge.explanation or not explanation_visible(invitation.version, question):
        return False
    if question.explanation_shown_at is None:
        QuestionState.objects.filter(pk=question.pk, explanation_shown_at__isnull=True).update(
            explanation_shown_at=now
        )
        question.explanation_shown_at = now
    return True


# Integrity signals.


def signal_add(
    invitation: Invitation,
    kind: str,
    *,
    now: datetime,
    question: QuestionState | None = None,
    detail: dict | None = None,
) -> IntegritySignal:
    return IntegritySignal.objects.create(
        organization_id=invitation.organization_id,
        invitation=invitation,
        question=question,
        kind=kind,
        detail=detail or {},
        at=now,
    )


def signal_record(
    invitation: Invitation,
    *,
    kind: str,
    now: datetime,
    question: QuestionState | None = None,
    detail: dict | None = None,
) -> IntegritySignal | None:
    """Record a signal the page reported (focus loss, paste); bounded per session."""
    if kind not in IntegritySignal.CLIENT_KINDS:
        raise TakingError(_("Unknown signal."), status=400)
    if invitation.status != Invitation.Status.STARTED:
        return None
    count = IntegritySignal.objects.filter(
        invitation=invitation, kind__in=IntegritySignal.CLIENT_KINDS
    ).count()
    if count >= MAX_CLIENT_SIGNALS:
        return None
    return signal_add(invitation, kind, question=question, now=now, detail=detail)


def client_changes_record(
    invitation: Invitation, *, ip: str | None, user_agent: str, now: datetime
) -> None:
    """Record once each new IP address or browser the session is used from."""
    if invitation.status != Invitation.Status.STARTED:
        return
    checks = (
        (IntegritySignal.Kind.IP_CHANGED, invitation.start_ip, ip, "ip"),
        (
            IntegritySignal.Kind.USER_AGENT_CHANGED,
            invitation.start_user_agent,
            (user_agent or "")[:400],
            "user_agent",
        ),
    )
    for kind, first, seen, name in checks:
        if not seen or seen == first:
            continue
        # A key lookup, not JSON containment: it works on SQLite (the embedded default) too.
        known = IntegritySignal.objects.filter(
            invitation=invitation, kind=kind, **{f"detail__{name}": seen}
        )
        if not known.exists():
            signal_add(invitation, kind, now=now, detail={name: seen, "first": first})


def time_used(question: QuestionState, *, now: datetime) -> float | None:
    """Seconds the candidate spent on a question, at most its limit."""
    if question.opened_at is None:
        return None
    end = question.closed_at or now
    if question.deadline is not None:
        end = min(end, question.deadline)
    return max(0.0, (end - question.opened_at).total_seconds())


def sessions_overdue(*, now: datetime) -> list[tuple[int, int]]:
    """(organization id, invitation id) of started sessions the clock has something to close.

    That is: an opened question past its deadline, the overall deadline passed, or the session
    older than ``SESSION_MAX_SECONDS`` (a candidate who left between two questions).
    """
    cutoff = now - grace()
    # Crossing tenants is the point: one sweeper serves every organization.
    overdue_questions = QuestionState.all_tenants.filter(
        closed_at__isnull=True, deadline__lt=cutoff, invitation__status=Invitation.Status.STARTED
    ).values_list("organization_id", "invitation_id")
    overdue_sessions = (
        Invitation.all_tenants.filter(status=Invitation.Status.STARTED)
        .filter(
            models.Q(deadline__lt=cutoff)
            | models.Q(started_at__lt=now - timedelta(seconds=settings.SESSION_MAX_SECONDS))
        )
        .values_list("organization_id", "pk")
    )
    return sorted(set(overdue_questions) | set(overdue_sessions))
