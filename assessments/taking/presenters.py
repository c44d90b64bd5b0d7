"""What the candidate's pages show of a question: the page's context, the JSON state the
page's script syncs with, and the texts the script says (``static/js/take.js``).

Presentation only: the rules are in ``taking.session`` and ``taking.answering``.
"""

from __future__ import annotations

import functools
import re
import uuid
from typing import Any

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from assessments.authoring.rendering import highlight_python, render_markdown
from assessments.core.choices import KIND_ICONS, AnswerFormat, Navigation
from assessments.invitations.models import Invitation
from assessments.taking.models import Answer, QuestionState
from assessments.taking.session import explanation_show, shuffled_options
from assessments.taking.variants import variant_challenge
from assessments.taking.verdicts import POLL_FACTOR, POLL_FIRST_MS, POLL_MAX_MS


# Published text is frozen and rendering is a pure function of it: render each text once per
# process instead of on every page and answer (Markdown plus nh3, pygments for code).
@functools.lru_cache(maxsize=1024)
def markdown_html(text: str) -> SafeString:
    return render_markdown(text)


@functools.lru_cache(maxsize=256)
def python_html(code: str) -> SafeString:
    return highlight_python(code)


# Option texts shown as code (monospace, scrolling sideways inside the option): several lines,
# a tensor, a list or a number, or an exception ("RuntimeError: ..."); anything else is prose.
CODE_OPTION = re.compile(r"\n|^\s*(tensor\(|[\[(]|-?\d|[A-Z]\w*(Error|Exception|Warning)\b)")

# How the page waits for a worker's verdict: "first factor cap" (take.js, the load benchmark).
POLL_SCHEDULE = f"{POLL_FIRST_MS} {POLL_FACTOR} {POLL_MAX_MS}"

# Below these many seconds the timer warns, then warns harder (take.js keeps them current).
TIMER_WARNING_SECONDS = 30
TIMER_DANGER_SECONDS = 10


def _picked(answer: Answer | None) -> set[str]:
    if answer is None:
        return set()
    raw = answer.raw
    return {raw} if isinstance(raw, str) else {str(r) for r in raw if isinstance(r, str)}


def option_rows(invitation, state: QuestionState, last: Answer | None) -> list[dict[str, Any]]:
    """The options as shown: the candidate's last pick checked, the key only once closed."""
    challenge = variant_challenge(state)
    if not challenge.options:
        return []
    picked = _picked(last)
    correct = {o["id"] for o in challenge.options if o["correct"]} if state.is_closed else set()
    return [
        {
            **option,
            "code": bool(CODE_OPTION.search(option["text"])),
            "picked": option["id"] in picked,
            "correct": option["id"] in correct,
        }
        for option in shuffled_options(invitation, challenge)
    ]


def timer_level(seconds: float | None) -> str:
    if seconds is None or seconds > TIMER_WARNING_SECONDS:
        return "normal"
    return "danger" if seconds <= TIMER_DANGER_SECONDS else "warning"


def question_context(invitation, questions, state: QuestionState, *, now) -> dict[str, Any]:
    challenge = variant_challenge(state)
    version = invitation.version
    answers = list(state.answers.order_by("submitted_at"))
    last = answers[-1] if answers else None
    # The candidate's own last pick (a late answer was refused: it is not theirs to show).
    accepted = next((a for a in reversed(answers) if a.status != Answer.Status.LATE), None)
    remaining = remaining_seconds(state, now)
    shown_tests = [
        {"name": t["name"], "setup": t["setup"]}
        for t in challenge.grading_config.get("tests", [])
        if not t.get("hidden")
    ]
    next_position = None
    if state.is_closed:
        later = [q for q in questions if q.position > state.position and not q.is_closed]
        next_position = later[0].position if later else None
    return {
        "invitation": invitation,
        "version": version,
        "state": state,
        "challenge": challenge,
        "questions": questions,
        "total": len(questions),
        "icon": KIND_ICONS.get(challenge.kind, "❓"),
        "prompt_html": markdown_html(challenge.prompt),
        "code_html": python_html(challenge.code) if challenge.code else "",
        "options": option_rows(invitation, state, accepted),
        # A text answer stays as the candidate left it after a wrong attempt.
        "text_value": accepted.raw if accepted and isinstance(accepted.raw, str) else "",
        "multiple": challenge.answer_format == AnswerFormat.MULTIPLE_CHOICE,
        "format": challenge.answer_format,
        "shown_tests": shown_tests,
        "entry_point": challenge.grading_config.get("entry_point", ""),
        "answers": answers,
        "last": last,
        "hint_html": markdown_html(challenge.hint) if state.hint_revealed_at else "",
        "has_hint": bool(challenge.hint),
        "explanation_html": (
            markdown_html(challenge.explanation)
            if explanation_show(invitation, state, now=now)
            else ""
        ),
        "remaining": remaining,
        "remaining_clock": clock_text(remaining),
        "timer_level": timer_level(remaining),
        "ui_strings": ui_strings(),
        "deadline_ms": int(state.deadline.timestamp() * 1000) if state.deadline else None,
        "now_ms": int(now.timestamp() * 1000),
        "submission_id": uuid.uuid4(),
        "next_position": next_position,
        "free": version.navigation == Navigation.FREE,
        "sequential": version.navigation == Navigation.SEQUENTIAL,
        "percent": round(100 * sum(q.is_closed for q in questions) / len(questions)),
        "poll_schedule": POLL_SCHEDULE,
    }


def ui_strings() -> dict[str, str]:
    """What take.js says, translated here (the script holds no UI text of its own)."""
    return {
        "remaining": _("%(clock)s remaining"),
        "oneMinute": _("One minute remaining."),
        "tenSeconds": _("Ten seconds remaining."),
        "timeUp": _("Time is up."),
        "timeUpShown": _("Time is up"),
        "warning": _("Under 30 seconds"),
        "danger": _("Under 10 seconds"),
        "afterExplanation": _("Answered after the explanation was shown: no points."),
        "correct": _("Correct"),
        "incorrect": _("Incorrect"),
        "grading": _("Grading your answer…"),
        "late": _("Your answer arrived after the time was up and was not accepted."),
        "failed": _("Your answer could not be graded; it did not use an attempt."),
        "attemptsLeft": _("Attempts: %(n)s left"),
        "hint": _("Hint"),
        "next": _("Next question"),
        "results": _("See your results"),
        "error": _("Something went wrong; please try again."),
    }


def remaining_seconds(state: QuestionState, now) -> int | None:
    if state.deadline is None or state.is_closed:
        return None
    return max(0, int((state.deadline - now).total_seconds()))


def clock_text(seconds: int | float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def state_payload(
    invitation: Invitation, state: QuestionState, *, now, last: Answer | None = None
) -> dict[str, Any]:
    if last is None:
        last = state.answers.order_by("-submitted_at").first()
    challenge = variant_challenge(state)
    explanation = ""
    if explanation_show(invitation, state, now=now):
        explanation = str(markdown_html(challenge.explanation))
    return {
        "position": state.position,
        "session": invitation.status,
        "closed": state.is_closed,
        "closed_reason": state.closed_reason,
        "remaining_ms": (
            max(0, int((state.deadline - now).total_seconds() * 1000))
            if state.deadline and not state.is_closed
            else None
        ),
        "server_now_ms": int(now.timestamp() * 1000),
        "attempts_left": state.attempts_left,
        "pending": state.pending,
        "last_answer": (
            {
                "status": last.status,
                "correct": last.correct,
                "after_explanation": last.after_explanation,
                "feedback": last.feedback,
                "details": last.details,
            }
            if last
            else None
        ),
        "explanation_html": explanation,
    }
