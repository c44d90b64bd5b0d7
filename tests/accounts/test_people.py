"""Owners and admins manage people; the last owner always stays."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent, MemberInvitation, Membership, Role
from accounts.services import (
    member_invitation_accept,
    member_invite,
    membership_change_role,
    membership_remove,
)
from accounts.tasks import send_member_invitation
from tests.conftest import login
from tests.factories import UserFactory


def _membership(tenant, user):
    return Membership.all_tenants.get(organization=tenant.organization, user=user)


def test_last_owner_cannot_be_demoted(tenant_a):
    owner = _membership(tenant_a, tenant_a.owner)
    with pytest.raises(ValidationError, match="last owner"):
        membership_change_role(membership=owner, role=Role.AUTHOR, actor=tenant_a.owner)
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_last_owner_cannot_be_removed(tenant_a):
    owner = _membership(tenant_a, tenant_a.owner)
    with pytest.raises(ValidationError, match="last owner"):
        membership_remove(membership=owner, actor=tenant_a.owner)
    assert Membership.all_tenants.filter(pk=owner.pk).exists()


def test_an_owner_can_be_demoted_once_there_is_another(tenant_a):
    membership_change_role(
        membership=_membership(tenant_a, tenant_a.author), role=Role.OWNER, actor=tenant_a.owner
    )
    membership_change_role(
        membership=_membership(tenant_a, tenant_a.owner), role=Role.ADMIN, actor=tenant_a.owner
    )
    assert _membership(tenant_a, tenant_a.owner).role == Role.ADMIN
    assert (
        AuditEvent.all_tenants.filter(
            organization=tenant_a.organization, action=AuditEvent.Action.MEMBER_ROLE_CHANGED
        ).count()
        == 2
    )


def test_invitation_creates_membership_with_its_role(tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = member_invite(
            organization=tenant_a.organization,
            email="New.Person@Example.com",
            role=Role.REVIEWER,
            invited_by=tenant_a.owner,
        )
    assert len(callbacks) == 1  # the email goes out after commit, through the queue
    assert invitation.email == "new.person@example.com"
    send_member_invitation.run(
        organization_id=tenant_a.organization.pk, invitation_id=invitation.pk
    )
    assert len(mail.outbox) == 1
    assert invitation.token in mail.outbox[0].body
    user = UserFactory(email="new.person@example.com")
    membership = member_invitation_accept(token=invitation.token, user=user)
    assert membership.role == Role.REVIEWER
    with pytest.raises(ValidationError):
        member_invitation_accept(token=invitation.token, user=user)


def test_invitation_cannot_be_accepted_by_another_address(tenant_a):
    invitation = member_invite(
        organization=tenant_a.organization,
        email="a@x.example",
        role=Role.AUTHOR,
        invited_by=tenant_a.owner,
    )
    with pytest.raises(ValidationError, match=r"sent to a@x\.example"):
        member_invitation_accept(token=invitation.token, user=UserFactory(email="b@x.example"))


def test_reinviting_refreshes_the_open_invitation(tenant_a):
    first = member_invite(
        organization=tenant_a.organization,
        email="a@x.example",
        role=Role.AUTHOR,
        invited_by=tenant_a.owner,
    )
    second = member_invite(
        organization=tenant_a.organization,
        email="A@x.example",
        role=Role.ADMIN,
        invited_by=tenant_a.owner,
    )
    assert first.pk == second.pk
    assert MemberInvitation.all_tenants.get(pk=first.pk).role == Role.ADMIN


def test_join_page_creates_account_and_membership(client, tenant_a):
    invitation = member_invite(
        organization=tenant_a.organization,
        email="joiner@x.example",
        role=Role.AUTHOR,
        invited_by=tenant_a.owner,
    )
    response = client.post(
        f"/accounts/join/{invitation.token}/",
        {"full_name": "Jo Iner", "password": "a-long-unusual-passphrase"},
    )
    assert response.status_code == 302
    assert Membership.all_tenants.filter(
        organization=tenant_a.organization, user__email="joiner@x.example", role=Role.AUTHOR
    ).exists()


def test_join_page_with_unknown_token_is_404(client, db):
    assert client.get("/accounts/join/nope/").status_code == 404


def test_owner_invites_through_the_admin_and_authors_cannot(client, tenant_a):
    login(client, tenant_a.owner)
    response = client.post(
        "/admin/accounts/memberinvitation/add/", {"email": "colleague@x.example", "role": "author"}
    )
    assert response.status_code == 302
    assert MemberInvitation.all_tenants.filter(email="colleague@x.example").exists()
    client.logout()
    login(client, tenant_a.author)
    response = client.post(
        "/admin/accounts/memberinvitation/add/", {"email": "other@x.example", "role": "author"}
    )
    assert response.status_code == 403


def test_admin_refuses_to_demote_the_last_owner(client, tenant_a):
    login(client, tenant_a.owner)
    owner = _membership(tenant_a, tenant_a.owner)
    response = client.post(f"/admin/accounts/membership/{owner.pk}/change/", {"role": "author"})
    assert response.status_code == 200
    assert "last owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_user_switches_between_organizations(client, tenant_a, tenant_b):
    from tests.factories import MembershipFactory

    MembershipFactory(organization=tenant_b.organization, user=tenant_a.author, role=Role.REVIEWER)
    login(client, tenant_a.author)
    response = client.post(
        "/accounts/organization/switch/", {"organization": tenant_b.organization.slug}
    )
    assert response.status_code == 302
    page = client.get("/admin/").content.decode()
    assert 'value="beta" selected' in page
    # A slug the user is not a member of is a 404, like one that does not exist.
    outsider = client.post("/accounts/organization/switch/", {"organization": "nope"})
    assert outsider.status_code == 404


def test_only_people_managers_can_revoke_invitations(client, tenant_a):
    invitation = member_invite(
        organization=tenant_a.organization, email="pending@x.example", role="author",
        invited_by=tenant_a.owner,
    )  # fmt: skip
    login(client, tenant_a.reviewer)
    client.post(
        "/admin/accounts/memberinvitation/",
        {"action": "revoke", "_selected_action": [invitation.pk]},
    )
    assert MemberInvitation.all_tenants.get(pk=invitation.pk).revoked_at is None
    client.logout()
    login(client, tenant_a.owner)
    client.post(
        "/admin/accounts/memberinvitation/",
        {"action": "revoke", "_selected_action": [invitation.pk]},
    )
    assert MemberInvitation.all_tenants.get(pk=invitation.pk).revoked_at is not None
