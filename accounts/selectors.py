"""Reads of accounts data that pages, the admin and the API share."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Membership, Organization, User


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    """Return the user's memberships across organizations (for the organization switcher).

    This is the one deliberate cross-tenant read: it is keyed by the signed-in user.
    """
    if not user.is_authenticated:
        return Membership.all_tenants.none()
    return (
        Membership.all_tenants.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def membership_for(*, user: User, organization: Organization | int) -> Membership | None:
    """Return the user's membership in the organization, or None."""
    if not user.is_authenticated:
        return None
    organization_id = getattr(organization, "pk", organization)
    return (
        Membership.all_tenants.filter(user=user, organization_id=organization_id)
        .select_related("organization")
        .first()
    )
