"""Template context: the active organization and the ones the user can switch to."""

from accounts.selectors import memberships_of_user


def active_organization(request):
    """Return the active organization, membership and the switcher's choices."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "active_organization": getattr(request, "organization", None),
        "active_membership": getattr(request, "membership", None),
        "switchable_memberships": memberships_of_user(user=user),
    }
