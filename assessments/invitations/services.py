"""Inviting candidates: one or many at once, cancelling, expiring, and the invitation email."""

from __future__ import annotations

import csv
import io
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.audit import audit_record
from accounts.models import AuditEvent, User
from accounts.tenancy import tenant_context_of
from assessments.authoring.models import ChallengeSetVersion
from assessments.core.events import event_record
from assessments.core.models import Event
from assessments.core.tasks import task_send
from assessments.invitations.models import INVITATION_MAX_DAYS, TIME_MULTIPLIER_RANGE, Invitation

MAX_CANDIDATES_PER_BATCH = 1000
CSV_COLUMNS = ("email", "first_name", "last_name", "external_id")


# Sent by name: the task's module imports this one (assessments/invitations/tasks.py).
SEND_INVITATION_TASK = "assessments.tasks.send_candidate_invitation"


@dataclass(frozen=True)
class Candidate:
    """Who is invited: what an HR system or a pasted list says about a person."""

    email: str
    first_name: str = ""
    last_name: str = ""
    external_id: str = ""


def candidates_parse(text: str) -> list[Candidate]:
    """Read a pasted list or CSV: ``email, first name, last name, external id`` per line.

    A first line naming the columns (``email,first_name,...``) is a header and may order
    them as it likes. Every problem is reported with its line number, all at once.
    """
    rows = list(csv.reader(io.StringIO(text.strip())))
    if not rows or not any(any(cell.strip() for cell in row) for row in rows):
        raise ValidationError(_("Paste at least one candidate."))
    header = [cell.strip().lower().replace(" ", "_") for cell in rows[0]]
    columns: tuple[str, ...] = CSV_COLUMNS
    first_line = 1
    if "email" in header:
        unknown = [name for name in header if name not in CSV_COLUMNS]
        if unknown:
            raise ValidationError(
                _("Line 1: unknown column(s) %(names)s; known: %(known)s.")
                % {"names": ", ".join(unknown), "known": ", ".join(CSV_COLUMNS)}
            )
        columns, rows, first_line = tuple(header), rows[1:], 2
    candidates, errors, seen = [], [], set()
    for number, row in enumerate(rows, start=first_line):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if len(cells) > len(columns):
            errors.append(
                _("Line %(n)d: %(count)d columns, at most %(max)d expected.")
                % {"n": number, "count": len(cells), "max": len(columns)}
            )
            continue
        values = dict(zip(columns, cells, strict=False))
        email = values.get("email", "").lower()
        try:
            validate_email(email)
        except ValidationError:
            errors.append(
                _("Line %(n)d: %(email)r is not an email address.") % {"n": number, "email": email}
            )
            continue
        if email in seen:
            errors.append(
                _("Line %(n)d: %(email)s is listed twice.") % {"n": number, "email": email}
            )
            continue
        seen.add(email)
        too_long = [name for name in ("first_name", "last_name") if len(values.get(name, "")) > 150]
        if too_long or len(values.get("external_id", "")) > 200:
            errors.append(_("Line %(n)d: a value is too long.") % {"n": number})
            continue
        candidates.append(
            Candidate(
                email=email,
                first_name=values.get("first_name", ""),
                last_name=values.get("last_name", ""),
                external_id=values.get("external_id", ""),
            )
        )
    if len(candidates) > MAX_CANDIDATES_PER_BATCH:
        errors.append(_("At most %(max)d candidates at once.") % {"max": MAX_CANDIDATES_PER_BATCH})
    if errors:
        raise ValidationError(errors)
    return candidates


def time_multiplier_parse(value) -> Decimal:
    """Return a valid time multiplier, or raise ``ValidationError`` saying the range."""
    try:
        multiplier = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        multiplier = None
    low, high = TIME_MULTIPLIER_RANGE
    if multiplier is None or not low <= multiplier <= high:
        raise ValidationError(
            _("The time multiplier must be a number from %(low)s to %(high)s.")
            % {"low": low, "high": high}
        )
    return multiplier


def invitations_create(
    *,
    version: ChallengeSetVersion,
    candidates: list[Candidate],
    actor: User | None,
    expires_at: datetime | None = None,
    time_multiplier: Decimal = Decimal("1.00"),
    send_email: bool = True,
) -> list[Invitation]:
    """Invite every candidate to ``version``, all or none; emails go out after commit."""
    now = timezone.now()
    expires_at = expires_at or now + timedelta(days=settings.CANDIDATE_INVITATION_DAYS)
    if expires_at <= now:
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    if expires_at > now + timedelta(days=INVITATION_MAX_DAYS):
        raise ValidationError(
            {"expires_at": _("The expiry must be at most %(days)d days from now.")
             % {"days": INVITATION_MAX_DAYS}}
        )  # fmt: skip
    time_multiplier = time_multiplier_parse(time_multiplier)
    if version.challenge_set.status == "archived":
        raise ValidationError(_("This set is archived; restore it before inviting candidates."))
    emails = [c.email.lower() for c in candidates]
    already = sorted(
        Invitation.objects.filter(
            version__challenge_set_id=version.challenge_set_id,
            email__in=emails,
            status__in=[Invitation.Status.INVITED, Invitation.Status.STARTED],
        ).values_list("email", flat=True)
    )
    if already:
        raise ValidationError(
            _("Already invited to this set and not finished: %(emails)s.")
            % {"emails": ", ".join(already)}
        )
    with transaction.atomic():
        invitations = Invitation.objects.bulk_create(
            Invitation(
                organization_id=version.organization_id,
                version=version,
                email=candidate.email.lower(),
                first_name=candidate.first_name,
                last_name=candidate.last_name,
                external_id=candidate.external_id,
                expires_at=expires_at,
                time_multiplier=time_multiplier,
                created_by=actor,
            )
            for candidate in candidates
        )
        for invitation in invitations:
            audit_record(
                organization=version.organization,
                actor=actor,
                action=AuditEvent.Action.CREATED,
                target=invitation,
                changes={"version": str(version), "expires_at": expires_at.isoformat()},
            )
        if send_email:
            _send_after_commit([i.pk for i in invitations], version.organization_id)
    return invitations


def _send_after_commit(invitation_ids: list[int], organization_id: int) -> None:
    def send():
        for invitation_id in invitation_ids:
            task_send(
                SEND_INVITATION_TASK, organization_id=organization_id, invitation_id=invitation_id
            )

    transaction.on_commit(send)


def invitation_resend(*, invitation: Invitation) -> None:
    """Send the invitation email again (only while it can still be used)."""
    if invitation.status not in (Invitation.Status.INVITED, Invitation.Status.STARTED):
        raise ValidationError(_("This invitation is %(status)s.") % {"status": invitation.status})
    with transaction.atomic():
        _send_after_commit([invitation.pk], invitation.organization_id)


def invitation_cancel(*, invitation: Invitation, actor: User | None) -> bool:
    """Cancel an invitation that is not finished; return whether it was cancelled."""
    now = timezone.now()
    with transaction.atomic():
        cancelled = Invitation.objects.filter(
            pk=invitation.pk, status__in=[Invitation.Status.INVITED, Invitation.Status.STARTED]
        ).update(status=Invitation.Status.CANCELLED, cancelled_at=now, updated_at=now)
        if cancelled:
            invitation.refresh_from_db()
            event_record(Event.Type.INVITATION_CANCELLED, invitation=invitation, now=now)
            audit_record(
                organization=invitation.organization,
                actor=actor,
                action=AuditEvent.Action.CHANGED,
                target=invitation,
                changes={"status": Invitation.Status.CANCELLED},
            )
    return bool(cancelled)


def invitations_expire(*, now: datetime, batch: int = 1000) -> int:
    """Expire invitations, of every organization, not started by their expiry; each with its
    event. At most ``batch`` per call: the sweeper runs again soon."""
    # Crossing tenants is the point of this read: one sweeper serves every organization.
    due = Invitation.all_tenants.filter(
        status=Invitation.Status.INVITED, expires_at__lte=now
    ).values_list("organization_id", "pk")[:batch]
    expired = 0
    for organization_id, pk in list(due):
        with tenant_context_of(organization_id), transaction.atomic():
            changed = Invitation.objects.filter(pk=pk, status=Invitation.Status.INVITED).update(
                status=Invitation.Status.EXPIRED, updated_at=now
            )
            if changed:
                invitation = Invitation.objects.select_related("version").get(pk=pk)
                event_record(Event.Type.INVITATION_EXPIRED, invitation=invitation, now=now)
                expired += 1
    return expired


# Mail clients and Python's email package treat lines over 78 characters as too long and
# send the whole body quoted-printable, which breaks the link across lines with "=".
# Wrapped paragraphs and the link alone on its line keep the body plain 7/8-bit text.
EMAIL_LINE_WIDTH = 72


def invitation_email_send(invitation: Invitation) -> None:
    """Send the candidate their link by the configured email backend."""
    version = invitation.version
    link = settings.SITE_URL + invitation.candidate_path()
    greeting = (
        _("Hello %(name)s,") % {"name": invitation.first_name}
        if invitation.first_name
        else _("Hello,")
    )
    count = version.challenges.count()
    paragraphs = [
        greeting,
        ngettext(
            "%(org)s invites you to take “%(title)s”, a timed challenge of %(n)d problem.",
            "%(org)s invites you to take “%(title)s”, a timed challenge of %(n)d problems.",
            count,
        )
        % {"org": invitation.organization.name, "title": version.title, "n": count},
        _("Start when you are ready (each question has its own timer):"),
    ]
    body = "\n\n".join(textwrap.fill(p, EMAIL_LINE_WIDTH) for p in paragraphs)
    body += "\n" + link + "\n\n"
    body += textwrap.fill(
        _("The link can be used until %(when)s UTC.")
        % {"when": f"{invitation.expires_at:%Y-%m-%d %H:%M}"},
        EMAIL_LINE_WIDTH,
    )
    send_mail(
        subject=_("Your invitation: %(title)s") % {"title": version.title},
        message=body,
        from_email=None,
        recipient_list=[invitation.email],
    )
