"""Badges: awarded when a finished session meets its set's criteria, public once awarded.

Each award is also an Open Badges 3.0 ``OpenBadgeCredential`` (a W3C Verifiable Credential),
signed as a VC-JWT with the organization's key when it is awarded and stored as signed, so
anyone can verify it with the organization's JWKS alone (docs/badges.md). Revoking changes
no credential: the organization's revocation list and the award's status resource say it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from accounts.audit import audit_record
from accounts.models import AuditEvent, Organization, User
from assessments.badges.models import BadgeAward
from assessments.badges.signing_keys import jwt_payload, jwt_sign, signing_key_current
from assessments.invitations.models import Invitation
from assessments.taking.models import QuestionState

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
# The JWT registered claims that mirror credential members (issuer, id, validFrom).
JWT_CLAIMS = ("iss", "jti", "nbf")
DEFAULT_CRITERIA = "Answer every question of the set correctly."
MAX_REASON = 300


def badge_earned(questions: list[QuestionState]) -> bool:
    """The criteria: every question answered correctly (the seed's "all challenges correct").

    A question answered after its explanation was shown (practice mode) earns no credit.
    """
    return bool(questions) and all(
        q.correct and not q.answered_after_explanation for q in questions
    )


def badge_award_if_earned(
    invitation: Invitation, questions: list[QuestionState], *, now: datetime
) -> BadgeAward | None:
    """Award the badge of a completed session that earned it; at most one per invitation."""
    if invitation.status != Invitation.Status.COMPLETED or not badge_earned(questions):
        return None
    award, created = BadgeAward.objects.get_or_create(
        invitation=invitation,
        defaults={
            "organization_id": invitation.organization_id,
            "version_id": invitation.version_id,
            "recipient_name": invitation.full_name,
            "recipient_email": invitation.email,
            "score": invitation.score or 0.0,
            "max_score": invitation.max_score or 0.0,
            "awarded_at": now,
        },
    )
    if created:
        badge_credential_issue(award, now=now)
    return award


# --- public addresses ---------------------------------------------------------------------
def _absolute(name: str, *args: Any) -> str:
    return settings.SITE_URL + reverse(name, args=args)


def issuer_id(organization: Organization) -> str:
    """Return the organization's issuer id: the URL of its Profile."""
    return _absolute("badge-issuer", organization.public_id)


def credential_id(award: BadgeAward) -> str:
    return f"urn:uuid:{award.public_id}"


def achievement_image_url(award: BadgeAward) -> str:
    return _absolute(
        "badge-set-image", award.organization.public_id, award.version.challenge_set.public_id
    )


def issuer_profile(organization: Organization) -> dict[str, Any]:
    """Return the organization as an Open Badges ``Profile``."""
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": issuer_id(organization),
        "type": ["Profile"],
        "name": organization.name,
        "url": issuer_id(organization),
    }


# --- the credential -----------------------------------------------------------------------
def _identity_hash(identity: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((identity + salt).encode()).hexdigest()


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def credential_build(award: BadgeAward, *, salt: str) -> dict[str, Any]:
    """Return the award as an unsigned ``OpenBadgeCredential`` (VC data model 2.0)."""
    organization, version = award.organization, award.version
    profile = issuer_profile(organization)
    del profile["@context"]
    page = _absolute("badge-detail", award.public_id)
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id(award),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": profile,
        "validFrom": _iso(award.awarded_at),
        "awardedDate": _iso(award.awarded_at),
        "name": version.title,
        "image": {"id": _absolute("badge-image", award.public_id), "type": "Image"},
        "credentialSubject": {
            "type": ["AchievementSubject"],
            # The email only hashed (with a salt): the holder can prove it, nobody reads it.
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "identityHash": _identity_hash(award.recipient_email.strip().lower(), salt),
                    "salt": salt,
                },
                {
                    "type": "IdentityObject",
                    "identityType": "name",
                    "hashed": False,
                    "identityHash": award.recipient_name,
                },
            ],
            "achievement": {
                "id": f"urn:uuid:{version.challenge_set.public_id}",
                "type": ["Achievement"],
                "name": version.title,
                "description": version.tagline or version.title,
                "criteria": {"narrative": version.badge_promise or DEFAULT_CRITERIA},
                "image": {"id": achievement_image_url(award), "type": "Image"},
            },
        },
        "evidence": [
            {
                "id": page,
                "type": ["Evidence"],
                "name": f"{version.title} (version {version.number})",
                "narrative": (
                    f"Completed {version.title} (version {version.number}) with a score of "
                    f"{award.score:g} of {award.max_score:g}, every question answered correctly."
                ),
            }
        ],
        "credentialStatus": {
            "id": _absolute("badge-revocations", organization.public_id),
            "type": "1EdTechRevocationList",
        },
    }


def badge_credential_issue(award: BadgeAward, *, now: datetime) -> BadgeAward:
    """Sign the award's credential with its organization's current key, once."""
    with transaction.atomic():
        # Two first reads of an award issued before credentials existed: one signs.
        locked = BadgeAward.objects.select_for_update().get(pk=award.pk)
        if not locked.credential_jwt:
            key = signing_key_current(now=now)
            credential = credential_build(locked, salt=secrets.token_hex(16))
            claims = {
                "iss": credential["issuer"]["id"],
                "jti": credential["id"],
                "nbf": int(locked.awarded_at.timestamp()),
            }
            locked.credential_jwt = jwt_sign({**claims, **credential}, key=key)
            locked.signing_key = key
            locked.save(update_fields=["credential_jwt", "signing_key"])
    award.credential_jwt, award.signing_key_id = locked.credential_jwt, locked.signing_key_id
    return award


def credential_document(award: BadgeAward) -> dict[str, Any]:
    """Return the signed credential as JSON (the JWT's payload without its JWT claims)."""
    payload = jwt_payload(award.credential_jwt)
    return {name: value for name, value in payload.items() if name not in JWT_CLAIMS}


# --- revocation ---------------------------------------------------------------------------
def badge_revoke(award: BadgeAward, *, reason: str, actor: User | None, now: datetime) -> bool:
    """Revoke the award with a reason; return False when it was revoked already."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError("Say why the badge is revoked.")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"The reason is longer than {MAX_REASON} characters.")
    with transaction.atomic():
        # Two members revoking at once: the first reason stands.
        locked = BadgeAward.objects.select_for_update().get(pk=award.pk)
        if locked.revoked_at is not None:
            return False
        locked.revoked_at, locked.revocation_reason, locked.revoked_by = now, reason, actor
        locked.save(update_fields=["revoked_at", "revocation_reason", "revoked_by"])
        audit_record(
            organization=locked.organization,
            actor=actor,
            action=AuditEvent.Action.CHANGED,
            target=locked,
            changes={"revoked": True, "reason": reason},
        )
    award.revoked_at, award.revocation_reason = locked.revoked_at, locked.revocation_reason
    return True


def credential_status(award: BadgeAward) -> dict[str, Any]:
    """Return the award's status resource: valid or revoked, when, and why."""
    return {
        "id": _absolute("badge-status", award.public_id),
        "credential": credential_id(award),
        "status": "valid" if award.is_valid else "revoked",
        "revoked": not award.is_valid,
        "revokedAt": _iso(award.revoked_at) if award.revoked_at else None,
        "revocationReason": award.revocation_reason or None,
        "revocationList": _absolute("badge-revocations", award.organization.public_id),
    }


def revocation_list(organization: Organization) -> dict[str, Any]:
    """Return the organization's revoked credentials (its ``1EdTechRevocationList``)."""
    # A public document (no tenant context): the organization is named in its URL.
    revoked = (
        BadgeAward.all_tenants.filter(organization=organization, revoked_at__isnull=False)
        .order_by("revoked_at", "id")
        .values_list("public_id", "revocation_reason")
    )
    return {
        "id": _absolute("badge-revocations", organization.public_id),
        "issuer": issuer_id(organization),
        "revokedCredentials": [
            {"id": f"urn:uuid:{public_id}", "revoked": True, "revocationReason": reason}
            for public_id, reason in revoked
        ],
    }
