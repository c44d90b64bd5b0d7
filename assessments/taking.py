"""Taking a test: the rules of a candidate's session, kept by the server.

The page shows a countdown, but only the deadlines stored here count: a question's deadline
is fixed when it is first opened, an answer after it (plus ``ANSWER_GRACE_SECONDS`` for the
network) is recorded as late and refused, and attempts are counted under a row lock so that
answers sent at the same moment can never exceed the maximum. Every function takes ``now``
so the clock can be moved in tests without patching.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from assessments.events import event_record
from assessments.models import ChallengeSetVersion, PublishedChallenge
from assessments.models.candidates import (
    Answer,
    IntegritySignal,
    Invitation,
    QuestionState,
)
from assessments.models.choices import CHOICE_FORMATS, AnswerFormat, FeedbackPolicy, Navigation
from assessments.models.events import Event
from grading.graders import AnswerError, get_grader
from grading.jobs import execute, grading_job_create
from grading.models import GradingJob

# The task a worker sends when it has graded an answer (see assessments.tasks).
ANSWER_GRADED_TASK = "assessments.tasks.answer_graded"
# A page may report at most this many focus and paste signals per session.
MAX_CLIENT_SIGNALS = 500


class TakingError(Exception):
    """A request the rules refuse; ``status`` is the HTTP status a view answers with."""

    status = 409

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


def grace() -> timedelta:
    return timedelta(seconds=settings.ANSWER_GRACE_SECONDS)


def invitation_for_token(token: str) -> Invitation | None:
    """Return the invitation a candidate link names, whatever its organization."""
    if not token or len(token) > 64:
        return None
    return (
        Invitation.all_tenants.select_related("version", "organization").filter(token=token).first()
    )


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
    QuestionState.objects.bulk_create(
        QuestionState(
            organization_id=locked.organization_id,
            invitation=locked,
            challenge=challenge,
            position=challenge.position,
            time_limit=math.ceil(challenge.time_limit * multiplier),
            max_attempts=challenge.max_attempts,
        )
        for challenge in challenges
    )
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
    """The session's questions in order, with their challenges."""
    return list(
        QuestionState.objects.filter(invitation=invitation)
        .select_related("challenge")
        .order_by("position")
    )


def session_sync(invitation: Invitation, *, now: datetime) -> list[QuestionState]:
    """Close what the clock has closed, complete the session if it is over; return questions.

    Called on every request of a started session, and by the periodic sweeper for sessions
    nobody looks at any more, so the stored state never lags what the clock says.
    """
    questions = session_questions(invitation)
    if invitation.status != Invitation.Status.STARTED:
        return questions
    overdue = [q for q in questions if not q.is_closed and _time_is_up(invitation, q, now)]
    if overdue:
        with transaction.atomic():
            for question in overdue:
                _close(question, QuestionState.Closed.TIME, now, only_if_open=True)
        questions = session_questions(invitation)
    _complete_if_over(invitation, questions, now)
    return questions


def _time_is_up(invitation: Invitation, question: QuestionState, now: datetime) -> bool:
    if question.deadline is not None and now > question.deadline + grace():
        return True
    return invitation.deadline is not None and now > invitation.deadline + grace()


def _close(question: QuestionState, reason: str, now: datetime, *, only_if_open: bool) -> None:
    rows = QuestionState.objects.filter(pk=question.pk)
    if only_if_open:
        rows = rows.filter(closed_at__isnull=True)
    if rows.update(closed_at=now, closed_reason=reason):
        question.closed_at, question.closed_reason = now, reason


def _complete_if_over(
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
    from assessments.badges import badge_award_if_earned

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
    if question.opened_at is not None or question.is_closed:
        return question
    if invitation.status != Invitation.Status.STARTED:
        raise TakingError(_("This test is over."), status=410)
    sequential = invitation.version.navigation == Navigation.SEQUENTIAL
    if sequential and position != current_position(invitation, questions):
        raise TakingError(_("Answer the questions in order."), status=403)
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
    if not question.challenge.hint:
        raise TakingError(_("This question has no hint."), status=404)
    if question.opened_at is None:
        raise TakingError(_("Open the question first."), status=403)
    with transaction.atomic():
        revealed = QuestionState.objects.filter(
            pk=question.pk, hint_revealed_at__isnull=True
        ).update(hint_revealed_at=now)
        if revealed:
            question.hint_revealed_at = now
            _signal(invitation, IntegritySignal.Kind.HINT, question=question, now=now)
    return question.challenge.hint


@dataclass
class Submission:
    """What answering produced: the stored answer, whether it was new, and the question as it
    stands after it (None when the answer came back from an earlier request)."""

    answer: Answer
    created: bool
    question: QuestionState | None = None


def answer_submit(
    invitation: Invitation,
    *,
    position: int,
    raw: Any,
    submission_id: str,
    now: datetime,
    ip: str | None = None,
) -> Submission:
    """Accept an answer as an attempt, record it as late, or refuse it.

    The question row is locked for the whole decision, so two answers sent at the same moment
    are counted one after the other; the same ``submission_id`` (a double click) returns the
    first answer instead of using another attempt. An answer the grader cannot read uses no
    attempt (``TakingError`` 400 with the reason).
    """
    if invitation.status != Invitation.Status.STARTED:
        # The second copy of a double-clicked last answer arrives after the first one ended
        # the session: it gets the stored answer back, not a refusal.
        if (repeat := _submitted(invitation, position, submission_id)) is not None:
            return Submission(repeat, created=False)
        raise TakingError(_("This test is over."), status=410)
    try:
        with transaction.atomic():
            question = (
                QuestionState.objects.select_for_update()
                .select_related("challenge")
                .filter(invitation=invitation, position=position)
                .first()
            )
            if question is None:
                raise TakingError(_("There is no such question."), status=404)
            # About to be refused (or recorded late): a repeated submission gets its answer
            # back instead. An open question needs no look-up: a repeat there meets the
            # unique constraint on insert.
            repeat = None
            if not _open_for_answers(invitation, question, now):
                repeat = _submitted(invitation, position, submission_id)
            if repeat is not None:
                return Submission(repeat, created=False)
            submission = _accept(invitation, question, raw, submission_id, now, ip)
        _complete_when_done(invitation, question, now)
        return submission
    except IntegrityError:
        # Only a concurrent or repeated insert of the same submission gets here: return it.
        answer = _submitted(invitation, position, submission_id)
        if answer is None:
            raise
        return Submission(answer, created=False)


def _open_for_answers(invitation: Invitation, question: QuestionState, now: datetime) -> bool:
    return not (
        question.is_closed
        or question.pending
        or question.attempts_used >= question.max_attempts
        or _time_is_up(invitation, question, now)
    )


@dataclass(frozen=True)
class FormValues:
    """An answer as a form sent it (every ``answer`` field); read once the format is known."""

    values: list[str]


def form_answer(values: list[str], answer_format: str) -> Any:
    """A form's ``answer`` values as the grader reads them: a list only for multiple choice."""
    if answer_format == AnswerFormat.MULTIPLE_CHOICE:
        return values
    return values[0] if len(values) == 1 else values


def _submitted(invitation: Invitation, position: int, submission_id: str) -> Answer | None:
    return Answer.objects.filter(
        question__invitation=invitation,
        question__position=position,
        submission_id=submission_id,
    ).first()


def _accept(
    invitation: Invitation,
    question: QuestionState,
    raw: Any,
    submission_id: str,
    now: datetime,
    ip: str | None,
) -> Submission:
    if question.opened_at is None:
        raise TakingError(_("Open the question before answering it."), status=403)
    answer_format = question.challenge.answer_format
    if isinstance(raw, FormValues):
        raw = form_answer(raw.values, answer_format)
    if raw is None or raw == "" or raw == []:
        choice = answer_format in CHOICE_FORMATS
        raise TakingError(_("Choose an option.") if choice else _("Write an answer."), status=400)
    late = _time_is_up(invitation, question, now)
    if question.is_closed and not (late and question.closed_reason == QuestionState.Closed.TIME):
        raise TakingError(_("This question is closed."))
    if late:
        answer = Answer.objects.create(
            organization_id=invitation.organization_id,
            question=question,
            submission_id=submission_id,
            raw=_bounded(raw),
            status=Answer.Status.LATE,
            feedback=_("The answer arrived after the time was up and was not accepted."),
            submitted_at=now,
            ip_address=ip,
        )
        _close(question, QuestionState.Closed.TIME, now, only_if_open=True)
        late_by = (now - (question.deadline or invitation.deadline)).total_seconds()
        _signal(
            invitation,
            IntegritySignal.Kind.LATE_ANSWER,
            question=question,
            now=now,
            detail={"late_by_seconds": round(late_by, 3)},
        )
        return Submission(answer, created=True, question=question)
    if question.pending:
        raise TakingError(_("Your previous answer is still being graded."))
    if question.attempts_used >= question.max_attempts:
        raise TakingError(_("No attempts left."))
    challenge = question.challenge
    grader = get_grader(challenge.answer_format)
    try:
        grader.parse_answer(raw)
        if challenge.answer_format in CHOICE_FORMATS:
            _check_choice(challenge, raw)
    except AnswerError as exc:
        raise TakingError(str(exc), status=400) from exc
    answer = Answer(
        organization_id=invitation.organization_id,
        question=question,
        attempt=question.attempts_used + 1,
        submission_id=submission_id,
        raw=raw,
        status=Answer.Status.PENDING,
        submitted_at=now,
        ip_address=ip,
    )
    payload = {"answer": raw, "key": challenge.key, "config": challenge.grading_config}
    question.attempts_used += 1
    if grader.needs_sandbox:
        job = grading_job_create(
            organization_id=invitation.organization_id,
            purpose=GradingJob.Purpose.ANSWER,
            answer_format=challenge.answer_format,
            payload=payload,
            callback=ANSWER_GRADED_TASK,
        )
        answer.grading_job = job
        answer.save()
        question.pending = True
        question.save(update_fields=["attempts_used", "pending"])
        return Submission(answer, created=True, question=question)
    job = _grade_here(invitation, challenge, payload, now)
    answer.grading_job = job
    _verdict_to_answer(question, answer, job, now)
    answer.save()  # one INSERT, verdict included
    _verdict_to_question(question, answer, now)
    return Submission(answer, created=True, question=question)


def _check_choice(challenge: PublishedChallenge, raw: Any) -> None:
    known = {o["id"] for o in challenge.options}
    picked = [raw] if isinstance(raw, str) else raw
    if not set(picked) <= known:
        raise AnswerError(_("That option is not part of this question."))


def _bounded(raw: Any) -> Any:
    # A late answer is kept for the report, but never more than a code answer's size.
    return raw if len(str(raw)) <= 60_000 else str(raw)[:60_000]


def _grade_here(
    invitation: Invitation, challenge: PublishedChallenge, payload: dict, now: datetime
) -> GradingJob:
    """Grade an answer that runs no code in the request, and store its job row as done.

    Choice, value, exception and text answers compare plain data with the key: a worker
    would add a round trip and nothing else. The job row is written all the same, so every
    graded answer has one, with the same fields a worker fills in.
    """
    job = GradingJob(
        organization_id=invitation.organization_id,
        purpose=GradingJob.Purpose.ANSWER,
        answer_format=challenge.answer_format,
        payload=payload,
        status=GradingJob.Status.RUNNING,
    )
    outcome = execute(job, client=None)
    job.status = GradingJob.Status.DONE
    job.correct, job.score = outcome.correct, outcome.score
    job.feedback, job.result = outcome.feedback, outcome.result
    job.deliveries = 1
    job.started_at = job.finished_at = now
    job.save()
    return job


def _apply_verdict(
    invitation: Invitation,
    question: QuestionState,
    answer: Answer,
    job: GradingJob,
    now: datetime,
) -> None:
    """Store a graded job's verdict on its (stored) answer and question; close as due.

    The caller holds the question's row lock.
    """
    _verdict_to_answer(question, answer, job, now)
    answer.save()
    _verdict_to_question(question, answer, now)


def _verdict_to_answer(question: QuestionState, answer: Answer, job: GradingJob, now) -> None:
    if job.status == GradingJob.Status.DONE:
        answer.status = Answer.Status.GRADED
        answer.correct = bool(job.correct)
        answer.score = job.score or 0.0
        answer.feedback = job.feedback
        answer.details = (job.result or {}).get("details", {})
    else:
        # The infrastructure gave up: not the candidate's fault, so the attempt is given back.
        answer.status = Answer.Status.FAILED
        answer.attempt = None
        answer.feedback = _("Your answer could not be graded; it did not use an attempt.")
        question.attempts_used -= 1
    answer.graded_at = now


def _verdict_to_question(question: QuestionState, answer: Answer, now: datetime) -> None:
    question.pending = False
    if answer.status == Answer.Status.GRADED:
        question.score = max(question.score, answer.score)
        question.correct = bool(question.correct) or answer.correct
    fields = ["pending", "score", "correct", "attempts_used"]
    if not question.is_closed:
        if answer.correct:
            question.closed_at, question.closed_reason = now, QuestionState.Closed.CORRECT
        elif question.attempts_used >= question.max_attempts:
            question.closed_at, question.closed_reason = now, QuestionState.Closed.ATTEMPTS
        fields += ["closed_at", "closed_reason"]
    question.save(update_fields=fields)


def _complete_when_done(invitation: Invitation, question: QuestionState, now: datetime) -> None:
    """After a question closed (and its row lock was released): end the session if over.

    Run outside the question's lock: completing locks the invitation, then its questions.
    """
    if not question.is_closed:
        return
    fresh = Invitation.objects.select_related("version").get(pk=invitation.pk)
    if fresh.status == Invitation.Status.STARTED:
        _complete_if_over(fresh, session_questions(fresh), now)
    invitation.status = fresh.status


def answer_graded(*, job_id: int, now: datetime) -> Answer | None:
    """A worker finished grading an answer: apply its verdict (idempotent)."""
    answer = Answer.objects.filter(grading_job_id=job_id).first()
    if answer is None:
        return None
    with transaction.atomic():
        question = QuestionState.objects.select_for_update().get(pk=answer.question_id)
        answer = Answer.objects.select_related("grading_job").get(pk=answer.pk)
        if answer.status != Answer.Status.PENDING:
            return answer
        invitation = Invitation.objects.select_related("version").get(pk=question.invitation_id)
        _apply_verdict(invitation, question, answer, answer.grading_job, now)
    _complete_when_done(invitation, question, now)
    return answer


def explanation_visible(version: ChallengeSetVersion, question: QuestionState) -> bool:
    """Whether the rules let the candidate read the explanation now."""
    if question.is_closed:
        return True
    if version.feedback == FeedbackPolicy.AFTER_WRONG_ANSWER:
        return question.attempts_used > 0 and question.correct is False
    return False


# Integrity signals.


def _signal(
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
    return _signal(invitation, kind, question=question, now=now, detail=detail)


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
            _signal(invitation, kind, now=now, detail={name: seen, "first": first})


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
