"""The signed, expiring link that shares a candidate's report with someone outside."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from assessments.invitations.models import Invitation

SHARE_SALT = "assessments.report-share"


def report_share_url(invitation: Invitation, *, now: datetime) -> tuple[str, datetime]:
    """A link anyone can open until it expires (``REPORT_LINK_DAYS``); return it and when.

    The token is signed with the secret key and carries its own timestamp: nothing is
    stored, an altered token is refused, and an old one expires by itself.
    """
    token = signing.dumps(
        {"i": str(invitation.public_id), "o": invitation.organization_id}, salt=SHARE_SALT
    )
    url = settings.SITE_URL + reverse("report-shared", args=[token])
    return url, now + timedelta(days=settings.REPORT_LINK_DAYS)


def report_share_resolve(token: str) -> Invitation | None:
    """The invitation a share token names, or None if it is forged, altered or expired."""
    try:
        data = signing.loads(
            token, salt=SHARE_SALT, max_age=timedelta(days=settings.REPORT_LINK_DAYS)
        )
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict):
        return None
    # A token lookup: a shared report's link names no organization until it is found.
    return (
        Invitation.all_tenants.select_related("version__challenge_set", "organization")
        .filter(public_id=data.get("i"), organization_id=data.get("o"))
        .first()
    )
