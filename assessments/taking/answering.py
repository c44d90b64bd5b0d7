"""Answering a question: an attempt, a late answer or a refusal, and the verdict stored.

The question's row is locked for the whole decision, so answers sent at the same moment are
counted one after the other and never exceed the attempts; the page's submission id makes a
double click count once. Answers that run no code are graded here, in the request; code
answers go to a worker, whose callback (``answer_graded``) stores the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.tenancy import tenant_context
from assessments.authoring.models import PublishedChallenge
from assessments.authoring.selectors import published_challenges
from assessments.core.choices import CHOICE_FORMATS, AnswerFormat
from assessments.invitations.models import Invitation
from assessments.taking.models import Answer, IntegritySignal, QuestionState
from assessments.taking.session import (
    TakingError,
    question_close,
    session_complete_if_over,
    session_questions,
    signal_add,
    time_is_up,
)
from assessments.taking.variants import variant_challenge
from assessments.taking.verdicts import verdict_pending_clear, verdict_pending_mark
from grading.graders import AnswerError, get_grader
from grading.jobs import grading_job_create, grading_job_grade_now
from grading.models import GradingJob
from grading.storable import storable_data

# The task a worker sends when it has graded an answer (see assessments.tasks).
ANSWER_GRADED_TASK = "assessments.tasks.answer_graded"


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
            # Only the question's row is locked: joining its challenge here would lock the
            # published challenge too, one row every candidate's answer to it waits for.
            question = (
                QuestionState.objects.select_for_update()
                .filter(invitation=invitation, position=position)
                .first()
            )
            if question is None:
                raise TakingError(_("There is no such question."), status=404)
            question.challenge = published_challenges(
                organization_id=invitation.organization_id, version_id=invitation.version_id
            )[question.challenge_id]
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
        or time_is_up(invitation, question, now)
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
    # PostgreSQL cannot store a NUL or a lone surrogate: they are kept as visible escapes.
    raw = storable_data(raw)
    if raw is None or raw == "" or raw == []:
        choice = answer_format in CHOICE_FORMATS
        raise TakingError(_("Choose an option.") if choice else _("Write an answer."), status=400)
    late = time_is_up(invitation, question, now)
    if question.is_closed and not (late and question.closed_reason == QuestionState.Closed.TIME):
        raise TakingError(_("This question is closed."))
    if late:
        return _accept_late(invitation, question, raw, submission_id, now, ip)
    if question.pending:
        raise TakingError(_("Your previous answer is still being graded."))
    if question.attempts_used >= question.max_attempts:
        raise TakingError(_("No attempts left."))
    challenge = variant_challenge(question)  # a variable question: this candidate's key
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
        # The row lock is held: a response that carried the explanation has recorded it.
        after_explanation=question.explanation_shown_at is not None,
        submitted_at=now,
        ip_address=ip,
    )
    payload = {"answer": raw, "key": challenge.key, "config": challenge.grading_config}
    question.attempts_used += 1
    question.answered_after_explanation |= answer.after_explanation
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
        # After the INSERT (a repeated submission fails it and marks nothing), before the
        # job's task is sent on commit.
        verdict_pending_mark(token=invitation.token, position=question.position)
        question.pending = True
        question.save(update_fields=["attempts_used", "pending", "answered_after_explanation"])
        return Submission(answer, created=True, question=question)
    job = _grade_here(invitation, challenge, payload, now)
    answer.grading_job = job
    _verdict_to_answer(question, answer, job, now)
    answer.save()  # one INSERT, verdict included
    _verdict_to_question(question, answer, now)
    return Submission(answer, created=True, question=question)


def _accept_late(
    invitation: Invitation,
    question: QuestionState,
    raw: Any,
    submission_id: str,
    now: datetime,
    ip: str | None,
) -> Submission:
    """Keep an answer that came after the time was up, unjudged, and close the question."""
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
    question_close(question, QuestionState.Closed.TIME, now, only_if_open=True)
    late_by = (now - (question.deadline or invitation.deadline)).total_seconds()
    signal_add(
        invitation,
        IntegritySignal.Kind.LATE_ANSWER,
        question=question,
        now=now,
        detail={"late_by_seconds": round(late_by, 3)},
    )
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
    """Grade an answer that runs no code in the request; its job row is written done."""
    return grading_job_grade_now(
        organization_id=invitation.organization_id,
        answer_format=challenge.answer_format,
        payload=payload,
        now=now,
    )


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
    if answer.status == Answer.Status.FAILED:
        _give_back_time(invitation, question, waited=now - answer.submitted_at, now=now)
    _verdict_to_question(question, answer, now)


def _give_back_time(
    invitation: Invitation, question: QuestionState, *, waited: timedelta, now: datetime
) -> None:
    """Our failure cost no time: move the deadlines by the wait, reopening a question it closed.

    The question (and the set, if it has an overall deadline) gets back the time from the
    answer's submission to the failed verdict; a question the clock closed meanwhile reopens
    while the session runs. The caller holds the question's row lock.
    """
    if waited <= timedelta(0) or invitation.status != Invitation.Status.STARTED:
        return
    if invitation.deadline is not None:
        invitation.deadline += waited
        Invitation.objects.filter(pk=invitation.pk, deadline__isnull=False).update(
            deadline=F("deadline") + waited, updated_at=now
        )
    if question.deadline is not None:
        question.deadline += waited
        if invitation.deadline is not None:
            question.deadline = min(question.deadline, invitation.deadline)
    fields = ["deadline"]
    if question.closed_reason == QuestionState.Closed.TIME and not time_is_up(
        invitation, question, now
    ):
        question.closed_at, question.closed_reason = None, ""
        fields += ["closed_at", "closed_reason"]
    question.save(update_fields=fields)


def _verdict_to_answer(question: QuestionState, answer: Answer, job: GradingJob, now) -> None:
    if job.status == GradingJob.Status.DONE:
        answer.status = Answer.Status.GRADED
        answer.correct = bool(job.correct)
        # Practice mode: the explanation was read before this answer, so it earns nothing.
        answer.score = 0.0 if answer.after_explanation else (job.score or 0.0)
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
    fields = ["pending", "score", "correct", "attempts_used", "answered_after_explanation"]
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
        session_complete_if_over(fresh, session_questions(fresh), now)
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
        verdict_pending_clear(token=invitation.token, position=question.position)
    _complete_when_done(invitation, question, now)
    return answer


#: How long a finished job's callback may take before the sweeper applies the verdict itself.
CALLBACK_GRACE = timedelta(seconds=60)


def answers_graded_sweep(*, now: datetime) -> int:
    """Apply the verdicts whose callback never came (a broker that lost it, a failed task).

    Without this the answer would stay pending for good: the question never reopens or
    closes and the session never completes. Return how many answers were brought up to date.
    """
    # Crossing tenants is the point: one sweeper serves every organization.
    lost = list(
        Answer.all_tenants.filter(
            status=Answer.Status.PENDING,
            grading_job__status__in=[GradingJob.Status.DONE, GradingJob.Status.FAILED],
            grading_job__finished_at__lt=now - CALLBACK_GRACE,
        ).values_list("organization_id", "grading_job_id")
    )
    for organization_id, job_id in lost:
        with tenant_context(organization_id):
            answer_graded(job_id=job_id, now=now)
    return len(lost)
