"""Candidate reports for organizations: the report itself, its signed share link, CSV export."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext as _

from assessments.invitations.models import Invitation
from assessments.reports.results import VERDICT_LABELS, invitation_result, question_verdict
from assessments.taking.models import Answer, IntegritySignal, QuestionState
from assessments.taking.variants import variant_challenge

# --- the report ------------------------------------------------------------------------------


def _answer_text(challenge, raw: Any) -> str:
    """An answer as a reader should see it: option texts for choices, else the raw text."""
    if challenge.options:
        texts = {o["id"]: o["text"] for o in challenge.options}
        picked = [raw] if isinstance(raw, str) else list(raw or [])
        return " | ".join(texts.get(str(p), str(p)) for p in picked)
    return raw if isinstance(raw, str) else str(raw)


def report_build(invitation: Invitation, *, now: datetime) -> dict[str, Any]:
    """Everything the report shows: the result, each question's answers, the timeline."""
    result = invitation_result(invitation, now=now)
    questions = list(
        QuestionState.objects.filter(invitation=invitation)
        .select_related("challenge")
        .prefetch_related(
            Prefetch("answers", queryset=Answer.objects.order_by("submitted_at", "id"))
        )
        .order_by("position")
    )
    rows = []
    timeline: list[dict[str, Any]] = []
    if invitation.started_at:
        timeline.append({"at": invitation.started_at, "what": _("Started the test")})
    for question, outcome in zip(questions, result["challenges"], strict=True):
        challenge = variant_challenge(question)  # option texts of the candidate's variant
        answers = [
            {
                "attempt": a.attempt,
                "status": a.status,
                "correct": a.correct,
                "after_explanation": a.after_explanation,
                "text": _answer_text(challenge, a.raw),
                "feedback": a.feedback,
                "at": a.submitted_at,
            }
            for a in question.answers.all()
        ]
        rows.append(
            {
                "question": question,
                "challenge": challenge,
                **outcome,
                "verdict_label": VERDICT_LABELS[outcome["verdict"]],
                "answers": answers,
            }
        )
        label = _("question %(n)d") % {"n": question.position}
        if question.opened_at:
            timeline.append({"at": question.opened_at, "what": _("Opened %s") % label})
        for answer in answers:
            verdict = {
                Answer.Status.LATE: _("late, refused"),
                Answer.Status.PENDING: _("being graded"),
                Answer.Status.FAILED: _("could not be graded"),
            }.get(answer["status"]) or (_("correct") if answer["correct"] else _("incorrect"))
            if answer["after_explanation"]:
                verdict += " " + _("(after the explanation: no points)")
            timeline.append(
                {
                    "at": answer["at"],
                    "what": _("Answered %(q)s: %(v)s") % {"q": label, "v": verdict},
                }
            )
        if question.closed_at:
            reason = question.get_closed_reason_display().lower()
            timeline.append({"at": question.closed_at, "what": f"{label.capitalize()}: {reason}"})
    signals = list(
        IntegritySignal.objects.filter(invitation=invitation)
        .select_related("question")
        .order_by("at", "id")
    )
    for signal in signals:
        where = (
            f" ({_('question %(n)d') % {'n': signal.question.position}})" if signal.question else ""
        )
        timeline.append(
            {"at": signal.at, "what": f"{signal.get_kind_display()}{where}", "signal": True}
        )
    if invitation.completed_at:
        timeline.append({"at": invitation.completed_at, "what": _("Completed the test")})
    timeline.sort(key=lambda entry: entry["at"])
    return {
        "invitation": invitation,
        "version": invitation.version,
        "result": result,
        "rows": rows,
        "timeline": timeline,
        "signals": signals,
    }


# --- CSV export ------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A value safe for spreadsheets: text that would start a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def results_rows(invitations: QuerySet[Invitation], *, now: datetime) -> Iterator[list[Any]]:
    """The header, then one row per invitation (a constant number of queries)."""
    invitations = list(
        invitations.select_related("version")
        .prefetch_related(
            Prefetch(
                "questions",
                queryset=QuestionState.objects.select_related("challenge").order_by("position"),
            )
        )
        # Every signal, hint reveals included: the count of what the report lists under
        # "Integrity signals" (and the API and Greenhouse count), under the same name.
        .annotate(signal_count=Count("signals"))
    )
    width = max((len(i.questions.all()) for i in invitations), default=0)
    header = [
        "invitation_id", "email", "first_name", "last_name", "external_id", "assessment",
        "version", "status", "started_at", "completed_at", "score", "max_score", "percent",
        "integrity_signals",
    ]  # fmt: skip
    for n in range(1, width + 1):
        header += [
            f"q{n}_verdict", f"q{n}_points", f"q{n}_attempts", f"q{n}_hint", f"q{n}_seconds",
            f"q{n}_after_explanation",
        ]  # fmt: skip
    yield header
    from assessments.taking.session import time_used

    for invitation in invitations:
        questions = list(invitation.questions.all())
        percent = None
        if invitation.score is not None and invitation.max_score:
            percent = round(100 * invitation.score / invitation.max_score, 2)
        row = [
            invitation.public_id, invitation.email, invitation.first_name, invitation.last_name,
            invitation.external_id, invitation.version.title, invitation.version.number,
            invitation.status, invitation.started_at, invitation.completed_at, invitation.score,
            invitation.max_score, percent, invitation.signal_count,
        ]  # fmt: skip
        for question in questions:
            seconds = time_used(question, now=now)
            row += [
                question_verdict(question, session_over=invitation.is_terminal),
                round(question.score * question.challenge.points, 4),
                question.attempts_used,
                "yes" if question.hint_revealed_at else "no",
                round(seconds, 1) if seconds is not None else None,
                "yes" if question.answered_after_explanation else "no",
            ]
        yield [_cell(value) for value in row]


class _Echo:
    def write(self, value: str) -> str:
        return value


def results_csv_lines(invitations, *, now: datetime) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in results_rows(invitations, now=now):
        yield writer.writerow(row)
