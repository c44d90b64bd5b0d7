"""Put the signed-in user's active organization on the request and in the tenant context."""

from __future__ import annotations

from accounts.selectors import membership_for, memberships_of_user
from accounts.tenancy import tenant_context

SESSION_KEY = "active_organization_id"


class ActiveOrganizationMiddleware:
    """Resolve ``request.organization`` and ``request.membership`` from the session.

    The organization is only ever one the user is a member of; with none, both are None
    and tenant queries in the request fail closed.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.organization = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = None
            wanted = request.session.get(SESSION_KEY)
            if wanted is not None:
                membership = membership_for(user=user, organization=wanted)
            if membership is None:
                membership = memberships_of_user(user=user).first()
            if membership is not None:
                request.membership = membership
                request.organization = membership.organization
                if wanted != membership.organization_id:
                    # Only when it changed: writing it every time would save the session on
                    # every request.
                    request.session[SESSION_KEY] = membership.organization_id
        if request.organization is None:
            return self.get_response(request)
        with tenant_context(request.organization):
            return self.get_response(request)
