"""Public badge resources: images, the signed credential, its status, the issuer's keys.

Everything here is public by design (a badge is meant to be checked by anyone with its
link) and read-only, except that an award issued before credentials existed is signed on its
first request. Unknown ids of any kind are 404s. The JSON resources allow any origin, so a
verifier running in a browser can fetch them.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.models import Organization
from accounts.tenancy import tenant_context
from assessments.authoring.models import ChallengeSet, ChallengeSetVersion
from assessments.badges.images import badge_svg
from assessments.badges.models import BadgeAward
from assessments.badges.services import (
    badge_credential_issue,
    credential_document,
    credential_status,
    issuer_profile,
    revocation_list,
)
from assessments.badges.signing_keys import jwks

# Drawn, not scripted: even opened on its own, an image may run nothing and load nothing.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def _award(public_id) -> BadgeAward:
    # Public pages: the award's UUID is the only key, whichever organization issued it.
    award = (
        BadgeAward.all_tenants.select_related("organization", "version__challenge_set")
        .filter(public_id=public_id)
        .first()
    )
    if award is None:
        raise Http404(_("No such badge."))
    return award


def _organization(public_id) -> Organization:
    organization = Organization.objects.filter(public_id=public_id).first()
    if organization is None:
        raise Http404(_("No such issuer."))
    return organization


def _public(response: HttpResponse, *, max_age: int) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = f"public, max-age={max_age}" if max_age else "no-cache"
    return response


def _json(data: dict[str, Any], *, content_type: str = "application/json", max_age: int = 0):
    body = json.dumps(data, indent=2, ensure_ascii=False)
    return _public(HttpResponse(body, content_type=content_type), max_age=max_age)


def _svg(document: str) -> HttpResponse:
    response = HttpResponse(document, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = SVG_POLICY
    return _public(response, max_age=300)


def _signed(award: BadgeAward) -> BadgeAward:
    if not award.credential_jwt:
        with tenant_context(award.organization_id):
            badge_credential_issue(award, now=timezone.now())
    return award


@require_GET
def badge_detail(request: HttpRequest, public_id) -> HttpResponse:
    """A badge's public page: anyone with the link can check it."""
    award = _award(public_id)
    url = settings.SITE_URL + reverse("badge-detail", args=[award.public_id])
    return render(request, "assessments/badge.html", {"award": award, "url": url})


@require_GET
def award_image(request: HttpRequest, public_id) -> HttpResponse:
    """The award's image: the set's badge with the recipient, the date, and REVOKED if so."""
    award = _award(public_id)
    return _svg(
        badge_svg(
            title=award.version.title,
            organization=award.organization.name,
            seed=str(award.version.challenge_set.public_id),
            recipient=award.recipient_name,
            awarded_at=award.awarded_at,
            revoked=not award.is_valid,
        )
    )


@require_GET
def set_image(request: HttpRequest, organization_id, set_id) -> HttpResponse:
    """A published set's badge (the achievement's image), titled as its latest version."""
    organization = _organization(organization_id)
    # Public image (no tenant context): the organization is named in its URL.
    challenge_set = ChallengeSet.all_tenants.filter(
        organization=organization, public_id=set_id
    ).first()
    version = (
        ChallengeSetVersion.all_tenants.filter(challenge_set=challenge_set)
        .order_by("-number")
        .first()
        if challenge_set is not None
        else None
    )
    if version is None:  # drafts have no public badge
        raise Http404(_("No such badge."))
    return _svg(badge_svg(title=version.title, organization=organization.name, seed=str(set_id)))


@require_GET
def credential_jwt(request: HttpRequest, public_id) -> HttpResponse:
    """The award's OpenBadgeCredential, signed: a VC-JWT (compact JWS)."""
    award = _signed(_award(public_id))
    response = HttpResponse(award.credential_jwt, content_type="application/vc+jwt")
    response["Content-Disposition"] = f'inline; filename="badge-{award.public_id}.jwt"'
    return _public(response, max_age=3600)


@require_GET
def credential_json(request: HttpRequest, public_id) -> HttpResponse:
    """The same credential decoded, to read; only the .jwt form proves anything."""
    return _json(credential_document(_signed(_award(public_id))), max_age=3600)


@require_GET
def status(request: HttpRequest, public_id) -> HttpResponse:
    """Whether the award is valid or revoked, now."""
    return _json(credential_status(_award(public_id)))


@require_GET
def issuer(request: HttpRequest, organization_id) -> HttpResponse:
    """The organization as an Open Badges issuer Profile (the credentials' issuer id)."""
    return _json(issuer_profile(_organization(organization_id)), max_age=300)


@require_GET
def issuer_jwks(request: HttpRequest, organization_id) -> HttpResponse:
    """The organization's public signing keys, retired ones included."""
    return _json(
        jwks(_organization(organization_id)),
        content_type="application/jwk-set+json",
        max_age=300,
    )


@require_GET
def revocations(request: HttpRequest, organization_id) -> HttpResponse:
    """The organization's revoked credentials (every credential's ``credentialStatus``)."""
    return _json(revocation_list(_organization(organization_id)))
