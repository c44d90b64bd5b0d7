"""Writes of accounts data: organizations, people and their roles."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent, MemberInvitation, Membership, Organization, Role, User


def organization_create(*, name: str, slug: str, owner: User) -> Organization:
    """Create an organization with ``owner`` as its first owner."""
    with transaction.atomic():
        organization = Organization.objects.create(name=name, slug=slug)
        # A new organization: nobody is in its context yet.
        membership = Membership.all_tenants.create(
            organization=organization, user=owner, role=Role.OWNER
        )
        audit_record(
            organization=organization,
            actor=owner,
            action=AuditEvent.Action.MEMBER_JOINED,
            target=membership,
            changes={"role": Role.OWNER},
        )
    return organization


def member_invite(
    *, organization: Organization, email: str, role: str, invited_by: User
) -> MemberInvitation:
    """Invite a colleague by email into ``role``; re-inviting refreshes the open invitation."""
    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    # Members are invited from the admin and from commands, the organization named explicitly.
    if Membership.all_tenants.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {organization}."})
    expires_at = timezone.now() + timedelta(days=settings.MEMBER_INVITATION_DAYS)
    with transaction.atomic():
        invitation = (
            MemberInvitation.all_tenants.select_for_update()
            .filter(
                organization=organization,
                email__iexact=email,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
            )
            .first()
        )
        if invitation is None:
            invitation = MemberInvitation.all_tenants.create(
                organization=organization,
                email=email,
                role=role,
                invited_by=invited_by,
                expires_at=expires_at,
            )
        else:
            invitation.role = role
            invitation.invited_by = invited_by
            invitation.expires_at = expires_at
            invitation.save(update_fields=["role", "invited_by", "expires_at"])
        audit_record(
            organization=organization,
            actor=invited_by,
            action=AuditEvent.Action.MEMBER_INVITED,
            target=invitation,
            changes={"email": email, "role": role},
        )
        from accounts.tasks import send_member_invitation

        transaction.on_commit(
            lambda: send_member_invitation.delay(
                organization_id=organization.pk, invitation_id=invitation.pk
            )
        )
    return invitation


def member_invitation_accept(*, token: str, user: User) -> Membership:
    """Turn an open invitation into a membership for ``user`` (whose email must match)."""
    with transaction.atomic():
        # Two tabs accepting the same link at once must create one membership. A token lookup:
        # the person joining is in no organization's context yet.
        invitation = (
            MemberInvitation.all_tenants.select_for_update()
            .select_related("organization")
            .filter(token=token)
            .first()
        )
        if invitation is None or not invitation.is_open:
            raise ValidationError("This invitation is not valid any more.")
        if invitation.email.lower() != user.email.lower():
            raise ValidationError(
                f"This invitation was sent to {invitation.email}; sign in with that address."
            )
        membership, created = Membership.all_tenants.get_or_create(
            organization=invitation.organization, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        if created:
            audit_record(
                organization=invitation.organization,
                actor=user,
                action=AuditEvent.Action.MEMBER_JOINED,
                target=membership,
                changes={"role": membership.role},
            )
    return membership


def _lock_owners(organization_id: int) -> list[Membership]:
    # Two owners demoting or removing each other at the same moment must not leave the
    # organization without an owner: lock every owner row before counting them.
    # The organization is named by id: role changes run from the admin and from commands.
    return list(
        Membership.all_tenants.select_for_update()
        .filter(organization_id=organization_id, role=Role.OWNER)
        .order_by("pk")
    )


def membership_change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    """Change a member's role; the last owner cannot be demoted."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    with transaction.atomic():
        owners = _lock_owners(membership.organization_id)
        membership = Membership.all_tenants.select_for_update().get(pk=membership.pk)
        if membership.role == role:
            return membership
        if membership.role == Role.OWNER and len(owners) <= 1:
            raise ValidationError(
                {"role": "The last owner cannot be demoted; make someone else owner first."}
            )
        previous = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            organization=membership.organization,
            actor=actor,
            action=AuditEvent.Action.MEMBER_ROLE_CHANGED,
            target=membership,
            changes={"role": [previous, role]},
        )
    return membership


def membership_remove(*, membership: Membership, actor: User) -> None:
    """Remove a member from the organization; the last owner cannot be removed."""
    with transaction.atomic():
        owners = _lock_owners(membership.organization_id)
        membership = Membership.all_tenants.select_for_update().get(pk=membership.pk)
        if membership.role == Role.OWNER and len(owners) <= 1:
            raise ValidationError(
                "The last owner cannot be removed; make someone else owner first."
            )
        audit_record(
            organization=membership.organization,
            actor=actor,
            action=AuditEvent.Action.MEMBER_REMOVED,
            target=membership,
            changes={"email": membership.user.email, "role": membership.role},
        )
        membership.delete()
