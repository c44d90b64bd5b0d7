"""Revoking: the admin action takes a reason; status, list, page and image all say so."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from assessments.models import BadgeAward
from tests.badges.conftest import earn_badge, fetch_jwks, fetch_jwt, verify
from tests.conftest import login

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/assessments/badgeaward/"


def revoke(client, award, reason: str | None):
    data = {"action": "revoke_selected", "_selected_action": [award.pk]}
    if reason is not None:
        data |= {"apply": "1", "reason": reason}
    return client.post(CHANGELIST, data)


def test_owner_revokes_with_a_reason_and_every_status_says_revoked(client, tenant_a, award):
    login(client, tenant_a.owner)
    status = client.get(f"/badges/{award.public_id}/status.json").json()
    assert status["status"] == "valid" and status["revoked"] is False

    form = revoke(client, award, None)
    assert form.status_code == 200 and b"Reason" in form.content
    assert revoke(client, award, "  ").status_code == 200  # no reason: the form again
    assert BadgeAward.all_tenants.get(pk=award.pk).is_valid

    response = revoke(client, award, "Answers <shared> before the session")
    assert response.status_code == 302
    award.refresh_from_db()
    assert award.revoked_at is not None and award.revoked_by == tenant_a.owner

    status = client.get(f"/badges/{award.public_id}/status.json").json()
    assert status["status"] == "revoked" and status["revoked"] is True
    assert status["revocationReason"] == "Answers <shared> before the session"
    listed = client.get(f"/issuers/{award.organization.public_id}/revocations.json").json()
    assert listed["revokedCredentials"] == [
        {
            "id": f"urn:uuid:{award.public_id}",
            "revoked": True,
            "revocationReason": "Answers <shared> before the session",
        }
    ]
    page = client.get(f"/badges/{award.public_id}/").content.decode()
    assert "Revoked on" in page and "Answers &lt;shared&gt; before the session" in page
    assert "Valid badge" not in page
    assert b"REVOKED" in client.get(f"/badges/{award.public_id}/image.svg").content
    # The signature is still good: revocation is a status, not a changed credential.
    claims = verify(fetch_jwt(client, award), fetch_jwks(client, award.organization))
    assert claims["credentialStatus"]["id"] == listed["id"]
    assert AuditEvent.all_tenants.filter(
        organization=tenant_a.organization, target_id=str(award.public_id)
    ).exists()


def test_a_second_revocation_keeps_the_first_reason(client, tenant_a, award):
    login(client, tenant_a.owner)
    revoke(client, award, "first")
    revoke(client, award, "second")
    award.refresh_from_db()
    assert award.revocation_reason == "first"


def test_an_author_cannot_revoke(client, tenant_a, award):
    login(client, tenant_a.author)
    assert client.get(CHANGELIST).status_code == 200  # members may look
    revoke(client, award, "not mine to revoke")
    assert BadgeAward.all_tenants.get(pk=award.pk).is_valid


def test_another_organizations_award_cannot_be_revoked(client, tenant_a, tenant_b, award):
    login(client, tenant_b.owner)
    assert revoke(client, award, "cross-tenant").status_code == 404
    assert client.get(f"{CHANGELIST}{award.pk}/change/").status_code == 404
    assert BadgeAward.all_tenants.get(pk=award.pk).is_valid


def test_revocation_list_reads_in_constant_queries(client, version, django_assert_max_num_queries):
    awards = [earn_badge(version, email=f"c{n}@example.com") for n in range(4)]
    BadgeAward.all_tenants.filter(pk__in=[a.pk for a in awards]).update(
        revoked_at=awards[0].awarded_at, revocation_reason="test"
    )
    with django_assert_max_num_queries(2):
        response = client.get(f"/issuers/{version.organization.public_id}/revocations.json")
    assert len(response.json()["revokedCredentials"]) == 4
