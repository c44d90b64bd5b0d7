"""Signing keys: rotation keeps old credentials verifiable, deletion is deliberate, each
organization signs with its own key only, and no private key ever leaves the server."""

from __future__ import annotations

import jwt
import pytest
from django.utils import timezone

from accounts.tenancy import CrossTenantWrite, tenant_context
from assessments.badges.models import ActiveSigningKeyDeletion
from assessments.badges.signing_keys import (
    SigningKeyUnreadable,
    _private_key_open,
    b64url,
    jwt_sign,
    signing_key_current,
    signing_key_delete,
)
from assessments.models import BadgeSigningKey
from tests.badges.conftest import earn_badge, fetch_jwks, fetch_jwt, verify
from tests.candidates.conftest import publish_set
from tests.conftest import login

pytestmark = pytest.mark.django_db

KEYS = "/admin/assessments/badgesigningkey/"


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_rotation_signs_new_badges_with_the_new_key_and_old_ones_still_verify(
    client, tenant_a, version, award
):
    old_token = fetch_jwt(client, award)
    old_kid = kid_of(old_token)
    login(client, tenant_a.owner)
    assert client.get(f"{KEYS}rotate/").status_code == 200
    assert client.post(f"{KEYS}rotate/").status_code == 302

    newer = earn_badge(version, email="grace@example.com")
    new_token = fetch_jwt(client, newer)
    assert kid_of(new_token) != old_kid
    keys = fetch_jwks(client, tenant_a.organization)
    assert [k["kid"] for k in keys["keys"]] == [kid_of(new_token), old_kid]
    assert verify(old_token, keys)["jti"] == f"urn:uuid:{award.public_id}"
    assert verify(new_token, keys)["jti"] == f"urn:uuid:{newer.public_id}"
    assert fetch_jwt(client, award) == old_token  # issued credentials never change
    with tenant_context(tenant_a.organization):
        assert BadgeSigningKey.objects.filter(retired_at__isnull=True).count() == 1


def test_only_a_retired_key_is_deleted_and_only_on_purpose(client, tenant_a, version, award):
    login(client, tenant_a.owner)
    with tenant_context(tenant_a.organization):
        first = BadgeSigningKey.objects.get()
    token = fetch_jwt(client, award)
    assert client.get(f"{KEYS}{first.pk}/delete/").status_code == 403  # it signs
    with pytest.raises(ActiveSigningKeyDeletion), tenant_context(tenant_a.organization):
        signing_key_delete(first)
    client.post(f"{KEYS}rotate/")

    page = client.get(f"{KEYS}{first.pk}/delete/")
    assert page.status_code == 200
    assert b"signed 1 badge" in page.content and b"can no longer be verified" in page.content
    assert client.post(f"{KEYS}{first.pk}/delete/", {"post": "yes"}).status_code == 302
    keys = fetch_jwks(client, tenant_a.organization)
    assert first.kid not in [k["kid"] for k in keys["keys"]]
    with pytest.raises(KeyError):
        verify(token, keys)


def test_members_who_do_not_manage_cannot_rotate(client, tenant_a, award):
    login(client, tenant_a.author)
    assert client.get(KEYS).status_code == 200
    assert client.post(f"{KEYS}rotate/").status_code == 403


def test_each_organization_signs_with_its_own_key_only(client, tenant_a, tenant_b, award):
    award_b = earn_badge(publish_set(tenant_b.organization), email="b@example.com")
    keys_a = fetch_jwks(client, tenant_a.organization)
    keys_b = fetch_jwks(client, tenant_b.organization)
    kids_a = {k["kid"] for k in keys_a["keys"]}
    kids_b = {k["kid"] for k in keys_b["keys"]}
    assert kids_a and kids_b and not kids_a & kids_b
    token_a, token_b = fetch_jwt(client, award), fetch_jwt(client, award_b)
    assert kid_of(token_a) in kids_a and kid_of(token_b) in kids_b
    with pytest.raises(KeyError):
        verify(token_b, keys_a)
    # Even with A's public key forced on it, B's credential does not verify.
    key_a = jwt.PyJWKSet.from_dict(keys_a).keys[0]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token_b, key=key_a, algorithms=["EdDSA"])
    for a in (award, award_b):
        a.refresh_from_db()
        assert a.signing_key.organization_id == a.organization_id
    with tenant_context(tenant_b.organization):
        assert signing_key_current(now=timezone.now()).kid == kid_of(token_b)
        key_of_a = BadgeSigningKey.all_tenants.get(organization=tenant_a.organization)
        with pytest.raises(CrossTenantWrite):
            signing_key_delete(key_of_a)


def test_another_organizations_keys_are_404_in_the_admin(client, tenant_a, tenant_b, award):
    login(client, tenant_b.owner)
    key_of_a = BadgeSigningKey.all_tenants.get(organization=tenant_a.organization)
    assert client.get(f"{KEYS}{key_of_a.pk}/change/").status_code == 404
    assert client.get(f"{KEYS}{key_of_a.pk}/delete/").status_code == 404
    assert key_of_a.kid.encode() not in client.get(KEYS).content


def test_private_keys_are_sealed_and_never_served(client, tenant_a, award, settings):
    key = BadgeSigningKey.all_tenants.get(organization=tenant_a.organization)
    private = _private_key_open(key)
    raw = b64url(private.private_bytes_raw())
    assert raw not in key.private_key_sealed
    login(client, tenant_a.owner)
    pages = [
        client.get(f"/issuers/{tenant_a.organization.public_id}/jwks.json"),
        client.get(f"/badges/{award.public_id}/credential.jwt"),
        client.get(f"/badges/{award.public_id}/credential.json"),
        client.get(f"/badges/{award.public_id}/"),
        client.get(KEYS),
        client.get(f"{KEYS}{key.pk}/change/"),
        client.get(f"{KEYS}{key.pk}/history/"),
        client.get("/admin/accounts/auditevent/"),
    ]
    for response in pages:
        assert response.status_code in (200, 302), response.request["PATH_INFO"]
        body = response.content.decode()
        assert raw not in body and key.private_key_sealed not in body
        assert '"d"' not in body  # no private JWK member anywhere
    # Sealed under a key derived from SECRET_KEY: another secret cannot open it.
    settings.SECRET_KEY = "a-different-secret-key"
    with pytest.raises(SigningKeyUnreadable):
        _private_key_open(key)
    settings.SECRET_KEY_FALLBACKS = ["test-secret-key-not-for-production"]
    assert jwt_sign({"probe": 1}, key=key)  # a rotated SECRET_KEY keeps the key usable
