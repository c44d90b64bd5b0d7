"""Builders of analytics tests: a published set and completed sessions with known values.

Sessions are written directly (invitation, one question row per challenge, the answers), so
every figure of a test can be computed by hand from the lines that build it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.authoring.publishing import challenge_set_publish
from assessments.models import (
    Answer,
    ChallengeSetVersion,
    Invitation,
    PublishedChallenge,
    QuestionState,
)
from tests.factories import ChallengeFactory, ChallengeOptionFactory, ChallengeSetFactory

T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)


def publish_analytics_set(organization):
    """Publish Q1, Q2 and Q4 (single choice A correct, B, C; 60 s, 2 attempts, 1 point) and
    Q3 (text; 120 s, 3 attempts, 2 points): a session scores out of 5."""
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(organization=organization, navigation="free")
        for position in (1, 2, 3, 4):
            if position == 3:
                ChallengeFactory(
                    challenge_set=challenge_set,
                    position=3,
                    title="Q3 running statistics",
                    answer_format="text",
                    grading_config={"accepted": ["running statistics"]},
                    time_limit=120,
                    max_attempts=3,
                    points=2,
                )
                continue
            challenge = ChallengeFactory(
                challenge_set=challenge_set,
                position=position,
                title=f"Q{position} choice",
                time_limit=60,
                max_attempts=2,
            )
            for text in "ABC":
                ChallengeOptionFactory(challenge=challenge, text=text, is_correct=text == "A")
        version, _created = challenge_set_publish(challenge_set=challenge_set, actor=None)
    return version


@dataclass(frozen=True)
class Q:
    """What one candidate did on one challenge.

    ``answers``: the raw answers in order (an option's text for choices, which the builder
    turns into its id); the question is correct when ``correct``, and its last answer is then
    the correct one. ``seconds``: time on it, None if never opened. ``timed_out``: closed by
    its clock (else by the right answer, the attempts, or the session's end).
    """

    correct: bool = False
    answers: tuple[str, ...] = ()
    seconds: float | None = 30
    hint: bool = False
    timed_out: bool = False


def session(
    version: ChallengeSetVersion,
    questions: dict[int, Q],
    *,
    status: str = Invitation.Status.COMPLETED,
) -> Invitation:
    """Write a session of ``version``: one question row per challenge, as ``questions`` say."""
    with tenant_context(version.organization_id):
        challenges = {c.position: c for c in PublishedChallenge.objects.filter(version=version)}
        score = sum(c.points for p, c in challenges.items() if questions[p].correct)
        invitation = Invitation(
            version=version,
            email=f"{uuid.uuid4().hex[:10]}@example.com",
            expires_at=T0 + timedelta(days=7),
            status=status,
            started_at=T0,
            completed_at=T0 + timedelta(hours=1) if status == Invitation.Status.COMPLETED else None,
            score=float(score),
            max_score=float(sum(c.points for c in challenges.values())),
        )
        invitation.save()
        for position, challenge in sorted(challenges.items()):
            _question(invitation, challenge, questions[position])
    return invitation


def _question(invitation: Invitation, challenge: PublishedChallenge, q: Q) -> QuestionState:
    opened = T0 + timedelta(minutes=challenge.position * 5)
    deadline = opened + timedelta(seconds=challenge.time_limit)
    if q.seconds is None:
        closed, reason = T0 + timedelta(hours=1), QuestionState.Closed.SESSION
    elif q.timed_out:
        # The sweeper closes a little after the deadline; time used stops at the deadline.
        closed, reason = deadline + timedelta(seconds=2), QuestionState.Closed.TIME
    else:
        closed = opened + timedelta(seconds=q.seconds)
        reason = (
            QuestionState.Closed.CORRECT
            if q.correct
            else (
                QuestionState.Closed.ATTEMPTS
                if len(q.answers) == challenge.max_attempts
                else QuestionState.Closed.SESSION
            )
        )
    question = QuestionState(
        invitation=invitation,
        challenge=challenge,
        position=challenge.position,
        time_limit=challenge.time_limit,
        max_attempts=challenge.max_attempts,
        opened_at=opened if q.seconds is not None else None,
        deadline=deadline if q.seconds is not None else None,
        attempts_used=len(q.answers),
        hint_revealed_at=opened + timedelta(seconds=1) if q.hint else None,
        closed_at=closed,
        closed_reason=reason,
        correct=q.correct,
        score=1.0 if q.correct else 0.0,
    )
    question.save()
    ids = {o["text"]: o["id"] for o in challenge.options}
    for attempt, raw in enumerate(q.answers, start=1):
        right = q.correct and attempt == len(q.answers)
        Answer(
            question=question,
            attempt=attempt,
            submission_id=uuid.uuid4(),
            raw=ids.get(raw, raw),
            status=Answer.Status.GRADED,
            correct=right,
            score=1.0 if right else 0.0,
            submitted_at=opened + timedelta(seconds=attempt),
            graded_at=opened + timedelta(seconds=attempt),
        ).save()
    return question
