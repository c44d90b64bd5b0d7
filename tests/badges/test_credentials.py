"""The signed credential: verifiable from the JWKS alone, tamper-evident, and what it says."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import pytest

from accounts.tenancy import tenant_context
from assessments.badges.services import badge_credential_issue
from assessments.models import BadgeAward
from tests.badges.conftest import earn_badge, fetch_jwks, fetch_jwt, verify

pytestmark = pytest.mark.django_db


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_credential_verifies_with_the_issuers_jwks_alone(client, award, version):
    token = fetch_jwt(client, award)
    claims = verify(token, fetch_jwks(client, award.organization))

    issuer = claims["issuer"]
    assert issuer["id"] == f"http://127.0.0.1:8000/issuers/{award.organization.public_id}/"
    assert issuer["type"] == ["Profile"] and issuer["name"] == award.organization.name
    assert issuer["url"]
    assert claims["iss"] == issuer["id"] and claims["jti"] == f"urn:uuid:{award.public_id}"
    assert claims["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert claims["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert claims["validFrom"] == award.awarded_at.isoformat(timespec="seconds").replace(
        "+00:00", "Z"
    )
    assert claims["nbf"] == int(award.awarded_at.timestamp())
    subject = claims["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"] and achievement["name"] == version.title
    assert achievement["criteria"]["narrative"] == version.badge_promise
    assert achievement["id"] == f"urn:uuid:{version.challenge_set.public_id}"
    image = achievement["image"]["id"].removeprefix("http://127.0.0.1:8000")
    assert client.get(image).status_code == 200
    (evidence,) = claims["evidence"]
    assert "score of 4 of 4" in evidence["narrative"]
    assert evidence["id"].endswith(f"/badges/{award.public_id}/")
    assert claims["credentialStatus"] == {
        "id": issuer["id"] + "revocations.json",
        "type": "1EdTechRevocationList",
    }


def test_recipient_email_is_only_in_the_credential_hashed(client, award):
    token = fetch_jwt(client, award)
    assert "ada@example.com" not in _b64decode(token.split(".")[1]).decode()
    claims = jwt.decode(token, options={"verify_signature": False})
    email, name = claims["credentialSubject"]["identifier"]
    assert email["identityType"] == "emailAddress" and email["hashed"] is True
    expected = hashlib.sha256(("ada@example.com" + email["salt"]).encode()).hexdigest()
    assert email["identityHash"] == "sha256$" + expected
    assert name == {
        "type": "IdentityObject",
        "identityType": "name",
        "hashed": False,
        "identityHash": "Ada Lovelace",
    }


def test_a_tampered_credential_fails_verification(client, award):
    token = fetch_jwt(client, award)
    keys = fetch_jwks(client, award.organization)
    header, payload, signature = token.split(".")
    data = bytearray(_b64decode(payload))
    position = data.index(b"Ada Lovelace")
    data[position] ^= 0x20  # "Ada" -> "ada": still valid JSON, a different claim
    tampered = f"{header}.{_b64encode(bytes(data))}.{signature}"
    assert json.loads(_b64decode(tampered.split(".")[1]))  # the payload still parses
    with pytest.raises(jwt.InvalidSignatureError):
        verify(tampered, keys)
    forged_signature = bytearray(_b64decode(signature))
    forged_signature[0] ^= 0x01
    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{header}.{payload}.{_b64encode(bytes(forged_signature))}", keys)


def test_credential_json_is_the_signed_payload_decoded(client, award):
    token = fetch_jwt(client, award)
    document = client.get(f"/badges/{award.public_id}/credential.json").json()
    payload = jwt.decode(token, options={"verify_signature": False})
    assert document == {k: v for k, v in payload.items() if k not in ("iss", "jti", "nbf")}


def test_the_credential_is_issued_once_and_served_as_stored(client, award):
    award.refresh_from_db()
    stored = award.credential_jwt
    assert stored and award.signing_key is not None
    with tenant_context(award.organization_id):
        badge_credential_issue(award, now=award.awarded_at)
    award.refresh_from_db()
    assert award.credential_jwt == stored == fetch_jwt(client, award)


def test_an_award_from_before_credentials_is_signed_on_first_request(client, version):
    award = earn_badge(version)
    BadgeAward.all_tenants.filter(pk=award.pk).update(credential_jwt="", signing_key=None)
    token = fetch_jwt(client, award)
    assert verify(token, fetch_jwks(client, award.organization))["jti"].endswith(
        str(award.public_id)
    )
    award.refresh_from_db()
    assert award.credential_jwt == token and award.signing_key is not None


def test_unknown_badges_and_issuers_are_404(client, award):
    missing = "00000000-0000-4000-8000-000000000000"
    for path in ("credential.jwt", "credential.json", "status.json", "image.svg", ""):
        assert client.get(f"/badges/{missing}/{path}").status_code == 404
    for path in ("", "jwks.json", "revocations.json", f"achievements/{missing}/image.svg"):
        assert client.get(f"/issuers/{missing}/{path}").status_code == 404
