"""A candidate's own variants of variable questions, and their draw from pools.

When a session starts, each question that draws from a pool gets one of its challenges, and
each variable question gets a seed and a variant job on the grading queue (the workers run
the author's programs in the sandbox: ``grading.variants``). Doing it at the start, not
when the invitation is created, spends no sandbox time on the many invitations never used,
and the questions it is stored on exist from then on; the first question is ready about a
second later. A question whose variant is not ready does not open, so its clock cannot
include the key's computation; the page asks the candidate to wait and reloads.

Seeds and pool draws are HMACs of a key derived from ``SECRET_KEY`` with the invitation and
the challenge: stable across reloads, not guessable, and nothing a candidate sends enters
them. They are stored on the question's row and never leave the server.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from assessments.authoring.models import PublishedChallenge
from assessments.authoring.variants import variant_payload
from assessments.core.choices import CHOICE_FORMATS
from assessments.invitations.models import Invitation
from assessments.taking.models import QuestionState, VariantStatus
from grading.jobs import grading_job_create
from grading.models import GradingJob

# The task a worker sends when it has drawn a variant (see assessments.tasks).
VARIANT_READY_TASK = "assessments.tasks.variant_ready"


def _secret(purpose: str) -> bytes:
    # A key of its own per use, so no other HMAC of SECRET_KEY in the project can be replayed.
    return hmac.new(
        settings.SECRET_KEY.encode(), f"ml-assess:{purpose}".encode(), "sha256"
    ).digest()


def variant_seed(invitation: Invitation, challenge: PublishedChallenge) -> str:
    """Return the candidate's seed for a challenge (the same on every call)."""
    message = f"{invitation.public_id}:{challenge.source_id}".encode()
    return hmac.new(_secret("variant-seed"), message, hashlib.sha256).hexdigest()


def pool_choice(invitation: Invitation, pool: str, members: list[PublishedChallenge]):
    """Return the pool member this candidate gets (members in position order)."""
    message = f"{invitation.public_id}:{pool}".encode()
    digest = hmac.new(_secret("pool-draw"), message, hashlib.sha256).digest()
    return members[int.from_bytes(digest[:8], "big") % len(members)]


def session_challenges(invitation: Invitation, challenges: list[PublishedChallenge]) -> list:
    """Return the challenges of a session: each pool replaced by the candidate's member."""
    chosen, pools = [], {}
    for challenge in challenges:
        if challenge.pool:
            pools.setdefault(challenge.pool, []).append(challenge)
            if len(pools[challenge.pool]) > 1:
                continue
        chosen.append(challenge)
    return [pool_choice(invitation, c.pool, pools[c.pool]) if c.pool else c for c in chosen]


def variants_request(invitation: Invitation, questions: list[QuestionState]) -> None:
    """Seed each variable question and send its variant job (in the session's transaction)."""
    for question in questions:
        challenge = question.challenge
        if not challenge.is_variable:
            continue
        seed = variant_seed(invitation, challenge)
        job = grading_job_create(
            organization_id=invitation.organization_id,
            purpose=GradingJob.Purpose.VARIANT,
            answer_format=challenge.answer_format,
            payload=variant_payload(challenge, [seed]),
            callback=VARIANT_READY_TASK,
        )
        question.variant_seed, question.variant_job = seed, job
        question.variant_status = VariantStatus.PREPARING
        question.save(update_fields=["variant_seed", "variant_job", "variant_status"])


def variant_store(*, job_id: int, now: datetime) -> QuestionState | None:
    """A variant job ended: keep its variant, or void the question if none could be drawn.

    Idempotent. A question that cannot be prepared (the sandbox stayed down, or the author's
    code failed for this seed) never costs the candidate: it is closed as unavailable and its
    points leave the session's maximum.
    """
    question = QuestionState.objects.filter(variant_job_id=job_id).first()
    if question is None:
        return None
    with transaction.atomic():
        question = (
            QuestionState.objects.select_for_update(of=("self",))
            .select_related("variant_job", "challenge")
            .get(pk=question.pk)
        )
        if question.variant_status != VariantStatus.PREPARING:
            return question
        job = question.variant_job
        if job is not None and job.status in (GradingJob.Status.QUEUED, GradingJob.Status.RUNNING):
            return question  # not finished: its callback comes when it is
        variants = (job.result or {}).get("variants", []) if job is not None else []
        if job is not None and job.status == GradingJob.Status.DONE and variants:
            question.variant, question.variant_status = variants[0], VariantStatus.READY
            question.save(update_fields=["variant", "variant_status"])
        else:
            _void(question, now)
        _start_overall_clock_if_prepared(question.invitation_id, now)
    return question


def _start_overall_clock_if_prepared(invitation_id: int, now: datetime) -> None:
    """Start a set's overall clock again once every variant is prepared (row locks held).

    The wait for the workers must not count against the candidate: the overall deadline
    becomes ``now`` plus the whole limit, which is the deadline fixed at the start pushed
    back by the wait. A question opened during the wait whose deadline was cut at the old
    overall deadline gets the time the new one allows.
    """
    invitation = Invitation.objects.select_for_update(of=("self",)).select_related("version")
    invitation = invitation.get(pk=invitation_id)
    limit = invitation.version.time_limit
    if invitation.deadline is None or not limit:
        return
    if QuestionState.objects.filter(
        invitation_id=invitation_id, variant_status=VariantStatus.PREPARING
    ).exists():
        return
    old = invitation.deadline
    new = now + timedelta(seconds=math.ceil(limit * float(invitation.time_multiplier)))
    if new <= old:
        return
    Invitation.objects.filter(pk=invitation_id).update(deadline=new)
    for cut in QuestionState.objects.filter(
        invitation_id=invitation_id, deadline=old, closed_at__isnull=True
    ):
        cut.deadline = min(cut.opened_at + timedelta(seconds=cut.time_limit), new)
        cut.save(update_fields=["deadline"])


def _void(question: QuestionState, now: datetime) -> None:
    invitation = Invitation.objects.select_for_update().get(pk=question.invitation_id)
    question.variant_status = VariantStatus.FAILED
    fields = ["variant_status"]
    if not question.is_closed:
        question.closed_at, question.closed_reason = now, QuestionState.Closed.UNAVAILABLE
        fields += ["closed_at", "closed_reason"]
        invitation.max_score = max(0.0, invitation.max_score - question.challenge.points)
        invitation.save(update_fields=["max_score", "updated_at"])
    question.save(update_fields=fields)


def variant_not_ready_message(question: QuestionState) -> str | None:
    """Why a question cannot open yet (None when it can)."""
    if question.variant_status == VariantStatus.PREPARING:
        return _("This question is being prepared for you. Please wait; no time is counted.")
    if question.variant_status == VariantStatus.FAILED:
        return _("This question could not be prepared; it does not count against you.")
    return None


def variant_challenge(question: QuestionState) -> PublishedChallenge:
    """Return the challenge as this candidate sees and is graded on it.

    For a variable question, an unsaved copy carrying the candidate's variant: prompt, code,
    hint, explanation, options and key. The copy is never saved (published rows refuse it).
    """
    challenge = question.challenge
    variant = question.variant
    if question.variant_status != VariantStatus.READY or not variant:
        return challenge
    shown = copy.copy(challenge)
    for name in ("prompt", "code", "hint", "explanation"):
        setattr(shown, name, variant[name])
    shown.options = [
        {"id": o["id"], "text": o["text"], "correct": o["correct"]} for o in variant["options"]
    ]
    shown.key = dict(variant["key"])
    if "grading_config" in variant:  # a code question: this candidate's own test inputs
        shown.grading_config = variant["grading_config"]
    if challenge.answer_format in CHOICE_FORMATS:
        shown.key = {
            "correct": [o["id"] for o in shown.options if o["correct"]],
            "options": [o["id"] for o in shown.options],
        }
    return shown


def variant_summary(question: QuestionState) -> dict | None:
    """The exact variant a candidate got, for members (reports, the API): never for them."""
    if question.variant_status != VariantStatus.READY or not question.variant:
        return None
    variant = question.variant
    key = variant["key"]
    if "expected" in key:  # a code question: the reference's result on each drawn test
        key_text = "\n".join(
            f"{name}: {outcome.get('value')!r}" for name, outcome in key["expected"].items()
        )
    else:
        key_text = key.get("printed") or f"{key.get('type', '')}: {key.get('message', '')}"
    return {
        "variables": variant["variables"],
        "code": variant["code"],
        "options": [{"text": o["text"], "correct": o["correct"]} for o in variant["options"]],
        "key": key_text.strip("\n"),
    }
