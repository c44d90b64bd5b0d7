"""Fixtures of badge tests: awards earned through the real completion path, and a verifier
that knows nothing of the application but a credential and a JWKS fetched over HTTP."""

from __future__ import annotations

import jwt
import pytest
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.models import BadgeAward, ChallengeSetVersion, QuestionState
from assessments.taking.session import session_complete, session_start
from tests.candidates.conftest import invite, publish_set


def earn_badge(version: ChallengeSetVersion, email: str = "ada@example.com") -> BadgeAward:
    """Start a session, answer every question right and complete it; return its award."""
    invitation = invite(version, email=email)
    now = timezone.now()
    with tenant_context(version.organization_id):
        session_start(invitation, now=now)
        QuestionState.objects.filter(invitation=invitation).update(
            correct=True, score=1.0, closed_at=now, closed_reason=QuestionState.Closed.CORRECT
        )
        session_complete(invitation, now=now)
    return BadgeAward.all_tenants.select_related("organization").get(invitation=invitation)


def fetch_jwks(client, organization) -> dict:
    response = client.get(f"/issuers/{organization.public_id}/jwks.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwk-set+json"
    return response.json()


def fetch_jwt(client, award) -> str:
    response = client.get(f"/badges/{award.public_id}/credential.jwt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vc+jwt"
    return response.content.decode()


def verify(token: str, jwks: dict) -> dict:
    """Verify ``token`` the way an outside verifier would: PyJWT, the JWKS, nothing else."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "vc+jwt"
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]  # KeyError: not in this issuer's set
    return jwt.decode(
        token, key=key, algorithms=["EdDSA"], options={"require": ["iss", "jti", "nbf"]}
    )


@pytest.fixture
def version(tenant_a) -> ChallengeSetVersion:
    return publish_set(tenant_a.organization)


@pytest.fixture
def award(version) -> BadgeAward:
    return earn_badge(version)
