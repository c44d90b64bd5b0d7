"""The candidate's pages: landing, one question at a time, results; and public badge pages.

A candidate has no account: the invitation's token in the URL is the credential. Every
view finds the invitation by its token, enters its organization's tenant context and lets
``taking.session`` and ``taking.answering`` decide; pages work without JavaScript (forms post
and redirect), and ``static/js/take.js`` adds the countdown, pending verdicts
and integrity signals.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.tenancy import tenant_context
from assessments.badges.models import BadgeAward
from assessments.core.choices import KIND_ICONS, FeedbackPolicy, Navigation
from assessments.core.json_body import JsonBodyError, json_body_parse
from assessments.invitations.models import Invitation
from assessments.taking.answering import FormValues, answer_submit
from assessments.taking.models import QuestionState
from assessments.taking.presenters import clock_text, markdown_html, question_context, state_payload
from assessments.taking.session import (
    OutOfOrder,
    TakingError,
    client_changes_record,
    current_position,
    hint_reveal,
    invitation_for_token,
    question_open,
    session_start,
    session_sync,
    time_used,
)
from assessments.taking.signals import client_signal_record
from assessments.taking.verdicts import verdict_pending

# The largest answer body a page may send (a code answer and the form's other fields).
MAX_ANSWER_BYTES = 64 * 1024


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def refusal_response(
    request: HttpRequest,
    message: str,
    status: int,
    *,
    invitation: Invitation | None = None,
    current: int | None = None,
    retry_after: int | None = None,
) -> HttpResponse:
    """Say why, and (for a known session) offer the way back: the question to answer now."""
    if _wants_json(request):
        response = JsonResponse({"error": message, "retry_after": retry_after}, status=status)
    else:
        context = {"message": message, "invitation": invitation, "current": current}
        context["retry_after"] = retry_after  # only a question being prepared asks again
        if invitation is not None:
            context["version"] = invitation.version
        response = render(request, "assessments/take/refused.html", context, status=status)
    if retry_after is not None:
        # A question still being prepared: the page asks again by itself, even without JS.
        response["Retry-After"] = str(retry_after)
        response["Refresh"] = str(retry_after)
    return response


def candidate_view(view):
    """Resolve the token to an invitation, in its tenant context; turn refusals into 4xx."""

    @functools.wraps(view)
    @never_cache
    def wrapper(request: HttpRequest, token: str, *args, **kwargs):
        invitation = invitation_for_token(token)
        if invitation is None:
            return refusal_response(
                request, _("This link is not valid. Check the address in your email."), 404
            )
        with tenant_context(invitation.organization_id):
            if invitation.status == Invitation.Status.CANCELLED:
                return refusal_response(request, _("This invitation was cancelled."), 410)
            now = timezone.now()
            client_changes_record(
                invitation,
                ip=_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
                now=now,
            )
            try:
                return view(request, invitation, *args, now=now, **kwargs)
            except TakingError as exc:
                current = exc.current if isinstance(exc, OutOfOrder) else None
                return refusal_response(
                    request,
                    exc.message,
                    exc.status,
                    invitation=invitation,
                    current=current,
                    retry_after=exc.retry_after,
                )

    return wrapper


def _question_count(invitation: Invitation) -> int:
    return invitation.version.challenges.count()


@require_GET
@candidate_view
def landing(request, invitation: Invitation, *, now):
    """The set's cover: title, problem count, tagline, badge promise, rules; Start."""
    if invitation.status == Invitation.Status.INVITED and invitation.expires_at <= now:
        return refusal_response(request, _("This invitation has expired."), 410)
    if invitation.status == Invitation.Status.EXPIRED:
        return refusal_response(request, _("This invitation has expired."), 410)
    version = invitation.version
    challenges = list(version.challenges.order_by("position"))
    multiplier = float(invitation.time_multiplier)
    rules = [
        {
            "position": c.position,
            "title": c.title,
            "kind": c.get_kind_display(),
            "icon": KIND_ICONS.get(c.kind, "❓"),
            "difficulty": c.get_difficulty_display(),
            "timer": clock_text(round(c.time_limit * multiplier)),
            "attempts": c.max_attempts,
        }
        for c in challenges
    ]
    return render(
        request,
        "assessments/take/landing.html",
        {
            "invitation": invitation,
            "version": version,
            "description_html": markdown_html(version.description) if version.description else "",
            "rules": rules,
            "count": len(challenges),
            "multiplier": invitation.time_multiplier if multiplier != 1 else None,
            "overall": clock_text(round(version.time_limit * multiplier))
            if version.time_limit
            else None,
            "sequential": version.navigation == Navigation.SEQUENTIAL,
            "practice": version.feedback == FeedbackPolicy.AFTER_WRONG_ANSWER,
            "grace": settings.ANSWER_GRACE_SECONDS,
        },
    )


@require_POST
@candidate_view
def start(request, invitation: Invitation, *, now):
    invitation = session_start(
        invitation, now=now, ip=_ip(request), user_agent=request.headers.get("User-Agent", "")
    )
    return redirect("take:current", token=invitation.token)


@require_GET
@candidate_view
def current(request, invitation: Invitation, *, now):
    """Where the candidate should be: the open question, the overview, or the results."""
    if invitation.status == Invitation.Status.INVITED:
        return redirect("take:landing", token=invitation.token)
    questions = session_sync(invitation, now=now)
    if invitation.status != Invitation.Status.STARTED:
        return redirect("take:results", token=invitation.token)
    position = current_position(invitation, questions)
    if invitation.version.navigation == Navigation.FREE:
        opened = [q for q in questions if q.opened_at and not q.is_closed]
        position = opened[0].position if opened else position
    return redirect("take:question", token=invitation.token, position=position)


@require_GET
@candidate_view
def question(request, invitation: Invitation, position: int, *, now):
    if invitation.status == Invitation.Status.INVITED:
        return redirect("take:landing", token=invitation.token)
    questions = session_sync(invitation, now=now)
    if invitation.status != Invitation.Status.STARTED:
        return redirect("take:results", token=invitation.token)
    state = question_open(invitation, questions, position, now=now)
    return render(
        request,
        "assessments/take/question.html",
        question_context(invitation, questions, state, now=now),
    )


def _read_answer(request: HttpRequest) -> tuple[Any, str]:
    """Return (raw answer, submission id) from a JSON body or a form post.

    A form's values are read once the question's format is known (``FormValues``), so this
    needs no query; empty answers are refused by ``answer_submit`` with the format's words.
    """
    if len(request.body) > MAX_ANSWER_BYTES:
        raise TakingError(_("The answer is too long."), status=413)
    if request.content_type == "application/json":
        try:
            data = json_body_parse(request.body)
        except JsonBodyError as exc:
            raise TakingError(str(exc), status=400) from exc
        if not isinstance(data, dict):
            raise TakingError(_("The request must be a JSON object."), status=400)
        raw, submission = data.get("answer"), data.get("submission_id")
    else:
        raw = FormValues(request.POST.getlist("answer"))
        submission = request.POST.get("submission_id")
    try:
        submission_id = str(uuid.UUID(str(submission)))
    except ValueError as exc:
        raise TakingError(_("Reload the page and answer again."), status=400) from exc
    return raw, submission_id


@require_POST
@candidate_view
def answer(request, invitation: Invitation, position: int, *, now):
    # No session_sync here: the answer's own question is judged under its row lock (late
    # answers included); the rest of the session is brought up to date by the next page
    # and by the sweeper.
    try:
        raw, submission_id = _read_answer(request)
        submission = answer_submit(
            invitation,
            position=position,
            raw=raw,
            submission_id=submission_id,
            now=now,
            ip=_ip(request),
        )
    except TakingError as exc:
        if _wants_json(request) or exc.status != 400:
            raise
        # A form sent without a readable answer: back to the question, saying why.
        messages.error(request, exc.message)
        return redirect("take:question", token=invitation.token, position=position)
    if _wants_json(request):
        state = submission.question or _question_state(invitation, position)
        status = 201 if submission.created else 200
        last = submission.answer if submission.created else None
        payload = state_payload(invitation, state, now=now, last=last)
        return JsonResponse(payload, status=status)
    return redirect("take:question", token=invitation.token, position=position)


def _question_state(invitation: Invitation, position: int) -> QuestionState:
    return (
        QuestionState.objects.select_related("challenge")
        .filter(invitation=invitation, position=position)
        .get()
    )


@require_POST
@candidate_view
def hint(request, invitation: Invitation, position: int, *, now):
    questions = session_sync(invitation, now=now)
    state = next((q for q in questions if q.position == position), None)
    if state is None:
        raise TakingError(_("There is no such question."), status=404)
    if state.is_closed and not state.hint_revealed_at:
        raise TakingError(_("This question is closed."))
    text = hint_reveal(invitation, state, now=now)
    if _wants_json(request):
        # Markdown, rendered and sanitized as the prompt is; the raw text for API-like clients.
        return JsonResponse({"hint": text, "hint_html": str(markdown_html(text))})
    return redirect("take:question", token=invitation.token, position=position)


@require_GET
@never_cache
def state(request, token: str, position: int):
    """The question's state as the server keeps it: the page's clock and verdicts sync here.

    The page waiting for a code answer's verdict asks with ``?poll=1``: while the cache says
    the verdict is on its way, the answer is that alone, with no database work; otherwise
    (the verdict stored, or the cache unsure) the full state.
    """
    if request.GET.get("poll") and verdict_pending(token=token, position=position):
        return JsonResponse({"position": position, "pending": True})
    return _full_state(request, token, position)


@candidate_view
def _full_state(request, invitation: Invitation, position: int, *, now):
    questions = session_sync(invitation, now=now)
    state = next((q for q in questions if q.position == position), None)
    if state is None:
        raise TakingError(_("There is no such question."), status=404)
    return JsonResponse(state_payload(invitation, state, now=now))


@require_POST
@candidate_view
def signal(request, invitation: Invitation, *, now):
    """The page reports a focus loss or a paste; recorded for the report, never held against."""
    try:
        data = json_body_parse(request.body)
    except JsonBodyError as exc:
        raise TakingError(str(exc), status=400) from exc
    client_signal_record(invitation, data=data, now=now)
    return JsonResponse({}, status=202)


@require_GET
@candidate_view
def results(request, invitation: Invitation, *, now):
    if invitation.status == Invitation.Status.INVITED:
        return redirect("take:landing", token=invitation.token)
    questions = session_sync(invitation, now=now)
    if invitation.status == Invitation.Status.STARTED:
        return redirect("take:current", token=invitation.token)
    rows = [
        {
            "state": q,
            "challenge": q.challenge,
            "icon": KIND_ICONS.get(q.challenge.kind, "❓"),
            "time_used": clock_text(time_used(q, now=now)),
            "time_limit": clock_text(q.time_limit),
            "points": round(q.score * q.challenge.points, 2),
        }
        for q in questions
    ]
    badge = BadgeAward.objects.filter(invitation=invitation).first()
    return render(
        request,
        "assessments/take/results.html",
        {
            "invitation": invitation,
            "version": invitation.version,
            "rows": rows,
            "badge": badge,
            "correct": sum(1 for q in questions if q.correct),
            "total": len(questions),
            "hints": sum(1 for q in questions if q.hint_revealed_at),
            # Said here too: without the page's script, this is where time running out shows.
            "timed_out": [
                q.position for q in questions if q.closed_reason == QuestionState.Closed.TIME
            ],
        },
    )
