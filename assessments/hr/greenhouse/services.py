"""Greenhouse's Assessment Partner contract (docs/greenhouse.md): tests, sending one, its
status, and the PATCH that tells Greenhouse a candidate completed.

Greenhouse calls the platform as one organization, with that organization's API key as the
HTTP Basic user name. ``send_test`` becomes an ordinary invitation (``invitations_create``)
that remembers Greenhouse's callback URL; ``test_status`` reads the invitation's result; the
invitation's ``invitation.completed`` event arms a ``GreenhouseCallback``, delivered by a
Celery task through the outbox (``assessments.hr.outbox``): the webhooks' transport (SSRF
checks), lease and retry schedule.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiKey
from accounts.sealing import sealing_fernet
from assessments.authoring.models import ChallengeSetVersion
from assessments.authoring.selectors import latest_published_versions
from assessments.core.models import Event
from assessments.hr.greenhouse.models import GreenhouseCallback
from assessments.hr.outbox import transport
from assessments.hr.outbox.delivery import (
    FAILED,
    SUCCEEDED,
    Reply,
    attempt_apply,
    lease_claim,
    lost_messages_resend,
    outbox_request,
    outbox_task_send,
)
from assessments.invitations.models import Invitation
from assessments.invitations.services import Candidate, invitations_create
from assessments.reports.results import invitation_result

logger = logging.getLogger(__name__)

USER_AGENT = "ML-Assess-Greenhouse/1"
# Sent by name: the task's module imports this one (assessments/hr/greenhouse/tasks.py).
DELIVER_TASK = "assessments.tasks.deliver_greenhouse_callback"

# Greenhouse knows one value, "complete" (results are final); it keeps asking until then.
PARTNER_STATUS = {
    Invitation.Status.INVITED: "sent",
    Invitation.Status.STARTED: "in_progress",
    Invitation.Status.COMPLETED: "complete",
    Invitation.Status.EXPIRED: "expired",
    Invitation.Status.CANCELLED: "cancelled",
}


# --- the stored credential ----------------------------------------------------------------
def _fernet() -> MultiFernet:
    # SECRET_KEY_FALLBACKS keep a rotation from losing the callbacks still waiting.
    return sealing_fernet(b"greenhouse-callback-key")


def credential_seal(plain: str) -> str:
    """Return ``plain`` encrypted and authenticated under a key derived from SECRET_KEY."""
    return _fernet().encrypt(plain.encode()).decode("ascii")


def credential_open(sealed: str) -> str | None:
    """Return what ``credential_seal`` sealed, or None if it cannot be read any more."""
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        return None


# --- reads --------------------------------------------------------------------------------
def greenhouse_tests() -> QuerySet[ChallengeSetVersion]:
    """The context organization's published sets, each at its latest version, by title."""
    return latest_published_versions().order_by("title", "id")


def greenhouse_test_data(version: ChallengeSetVersion) -> dict[str, str]:
    """One entry of ``list_tests``: the set's public id (stable across versions) and title."""
    return {
        "partner_test_id": str(version.challenge_set.public_id),
        "partner_test_name": version.title,
    }


def _when(value: datetime | None) -> str | None:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else None


def greenhouse_test_status(invitation: Invitation, *, now: datetime) -> dict[str, Any]:
    """``test_status``: the status in Greenhouse's words, the percent score once complete,
    the report link, and a flat ``metadata`` of primitives that Greenhouse displays."""
    result = invitation_result(invitation, now=now)
    complete = invitation.status == Invitation.Status.COMPLETED
    taken = result["time_taken_seconds"]
    metadata = {
        "Assessment": invitation.version.title,
        "Version": invitation.version.number,
        "Status": invitation.get_status_display(),
        "Score": (
            f"{result['score']:g} / {result['max_score']:g}"
            if complete and result["score"] is not None and result["max_score"]
            else None
        ),
        "Started at": _when(invitation.started_at),
        "Completed at": _when(invitation.completed_at),
        "Time taken (minutes)": round(taken / 60, 1) if taken is not None and complete else None,
        "Badge awarded": result["badge_awarded"] if complete else None,
        "Integrity signals": len(result["integrity_signals"]),
    }
    return {
        "partner_status": PARTNER_STATUS[invitation.status],
        "partner_profile_url": result["report_url"],
        "partner_score": result["percent"] if complete else None,
        "metadata": {name: value for name, value in metadata.items() if value is not None},
    }


def greenhouse_application_id(profile_url: str) -> str:
    """The ``application_id`` of a Greenhouse profile URL (``...?application_id=26234709``),
    or ""."""
    values = parse_qs(urlsplit(profile_url).query).get("application_id", [])
    return values[0] if values and values[0].isdigit() else ""


# --- send_test ----------------------------------------------------------------------------
def greenhouse_callback_url_check(url: str) -> None:
    """Refuse a callback URL the organization's key may not be sent to: not https, or not on
    a Greenhouse host (``GREENHOUSE_CALLBACK_HOSTS``). Its addresses are checked when it is
    called (the transport's SSRF rules), not here: a DNS hiccup must not fail send_test."""
    try:
        scheme, host, _port, _ = transport.url_parts(url)
    except transport.UnsafeTarget as exc:
        raise ValidationError(str(exc), code="unsafe_url") from exc
    local = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    if scheme != "https" and not local:
        raise ValidationError("The callback URL must use https.", code="unsafe_url")
    host = host.lower().rstrip(".")
    if not any(host == h or host.endswith("." + h) for h in settings.GREENHOUSE_CALLBACK_HOSTS):
        raise ValidationError(f"{host} is not a Greenhouse host.", code="unsafe_url")


def greenhouse_test_send(
    *,
    version: ChallengeSetVersion,
    candidate: Candidate,
    callback_url: str,
    api_key: ApiKey,
    plain_key: str,
) -> tuple[Invitation, bool]:
    """Invite ``candidate`` to ``version`` for Greenhouse (the email goes out on commit);
    return the invitation and whether it is new.

    Greenhouse may send the same test again (a timeout, a retry): its callback URL names
    the take-home test, so a second call with the same URL returns the first invitation.
    Raises ``ValidationError`` when the candidate has an unfinished invitation to the set.
    """
    existing = Invitation.objects.filter(partner_callback_url=callback_url).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            (invitation,) = invitations_create(version=version, candidates=[candidate], actor=None)
            invitation.source = Invitation.Source.GREENHOUSE
            invitation.partner_callback_url = callback_url
            invitation.save(update_fields=["source", "partner_callback_url", "updated_at"])
            GreenhouseCallback.objects.create(
                organization_id=invitation.organization_id,
                invitation=invitation,
                api_key=api_key,
                credential=credential_seal(plain_key),
            )
    except IntegrityError:
        # The same send_test at the same moment: the unique callback URL let one through.
        existing = Invitation.objects.filter(partner_callback_url=callback_url).first()
        if existing is None:
            raise
        return existing, False
    return invitation, True


# --- the completion PATCH -----------------------------------------------------------------
def _send_task(organization_id: int, callback_id: int, countdown: float | None = None) -> None:
    outbox_task_send(
        DELIVER_TASK, organization_id=organization_id, row_kwarg="callback_id",
        row_id=callback_id, countdown=countdown,
    )  # fmt: skip


def greenhouse_event_apply(event: Event) -> None:
    """In the event's transaction: arm the PATCH of a Greenhouse invitation that completed
    (its task is sent on commit), or forget the key of one that expired or was cancelled.

    Runs in the event's organization context (``event_record`` enters it)."""
    invitation = event.invitation
    if invitation is None or invitation.source != Invitation.Source.GREENHOUSE:
        return
    waiting = GreenhouseCallback.objects.filter(
        invitation_id=invitation.pk,
        status=GreenhouseCallback.Status.WAITING,
    )
    if event.type in (Event.Type.INVITATION_EXPIRED, Event.Type.INVITATION_CANCELLED):
        waiting.update(status=GreenhouseCallback.Status.SKIPPED, credential="")
        return
    if event.type != Event.Type.INVITATION_COMPLETED:
        return
    callback_id = waiting.values_list("pk", flat=True).first()
    now = timezone.now()
    armed = callback_id is not None and GreenhouseCallback.objects.filter(
        pk=callback_id, status=GreenhouseCallback.Status.WAITING
    ).update(
        status=GreenhouseCallback.Status.PENDING,
        attempt_limit=settings.WEBHOOK_MAX_ATTEMPTS,
        next_attempt_at=now,
        enqueued_at=now,
    )
    if armed:
        transaction.on_commit(partial(_send_task, event.organization_id, callback_id))


def _claim(callback_id: int, now: datetime) -> bool:
    # A duplicate message (the sweeper's re-send, a broker redelivery) races for the same
    # due callback: one conditional update lets exactly one worker attempt it.
    return lease_claim(GreenhouseCallback.objects.filter(pk=callback_id), now)


def _patch(url: str, plain_key: str) -> Reply:
    """PATCH ``url`` once, empty, as the organization."""
    credentials = base64.b64encode(f"{plain_key}:".encode()).decode("ascii")
    headers = {"Authorization": f"Basic {credentials}", "User-Agent": USER_AGENT}
    return outbox_request("PATCH", url, body=b"", headers=headers)


def _give_up(callback_id: int, reason: str) -> None:
    GreenhouseCallback.objects.filter(pk=callback_id).update(
        status=GreenhouseCallback.Status.FAILED, credential="", next_attempt_at=None,
        lease_until=None, last_error=reason[:300],
    )  # fmt: skip
    logger.warning("Greenhouse callback %s not delivered: %s", callback_id, reason)


def greenhouse_callback_attempt(*, callback_id: int) -> bool | None:
    """PATCH a due callback once, if no one else is; schedule the next attempt on failure.

    Return whether Greenhouse accepted it, or None when there was nothing to do. Runs in
    the callback's tenant context.
    """
    now = timezone.now()
    if not _claim(callback_id, now):
        return None
    callback = GreenhouseCallback.objects.select_related("invitation", "api_key").get(
        pk=callback_id
    )
    if callback.api_key is None or callback.api_key.revoked_at is not None:
        _give_up(callback_id, "the API key Greenhouse used was revoked")
        return False
    plain_key = credential_open(callback.credential)
    if plain_key is None:
        _give_up(callback_id, "the stored key cannot be read (was SECRET_KEY changed?)")
        return False
    try:
        greenhouse_callback_url_check(callback.invitation.partner_callback_url)
    except ValidationError as exc:
        _give_up(callback_id, f"refused: {' '.join(exc.messages)}")
        return False
    attempted_at = timezone.now()
    reply = _patch(callback.invitation.partner_callback_url, plain_key)
    with transaction.atomic():
        callback = GreenhouseCallback.objects.select_for_update().get(pk=callback_id)
        countdown = attempt_apply(callback, reply, attempted_at=attempted_at)
        if callback.status in (SUCCEEDED, FAILED):
            callback.credential = ""  # the key is kept only while a PATCH may still be sent
        callback.save()
        if countdown is not None:
            transaction.on_commit(
                partial(_send_task, callback.organization_id, callback.pk, countdown)
            )
    if callback.status == GreenhouseCallback.Status.FAILED:
        logger.warning("Greenhouse callback %s failed: %s", callback_id, callback.last_error)
    return reply.succeeded


def greenhouse_callbacks_resend(*, now: datetime, batch: int = 1000) -> int:
    """Re-send lost callback messages, of every organization; return how many."""
    return lost_messages_resend(GreenhouseCallback, _send_task, now=now, batch=batch)
