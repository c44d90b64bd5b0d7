"""What every API view shares: key authentication, the rate limit, the key's tenant context,
and serializers that refuse fields they do not know."""

from __future__ import annotations

from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.views import APIView

from accounts.tenancy import tenant_enter, tenant_leave
from assessments.hr.api.auth import ApiClient, ApiKeyAuthentication, ApiKeyRateThrottle


class OrganizationScopedMixin:
    """Run the whole view in the tenant context of the calling key's organization.

    Authentication happens inside DRF's dispatch; the context is entered right after it
    (``initial``) and always left when the view returns, whatever happened.
    """

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [ApiKeyRateThrottle]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if isinstance(request.user, ApiClient):
            self._tenant_token = tenant_enter(request.user.api_key.organization_id)

    def dispatch(self, request, *args, **kwargs):
        self._tenant_token = None
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            if self._tenant_token is not None:
                tenant_leave(self._tenant_token)

    @property
    def api_key(self):
        return self.request.user.api_key

    @property
    def organization(self):
        return self.request.user.organization


class ApiView(OrganizationScopedMixin, APIView):
    pass


class StrictSerializer(serializers.Serializer):
    """A request serializer that refuses unknown fields instead of ignoring them."""

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, dict):
            unknown = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # Report unknown fields together with every other problem, in one answer.
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class CreatedCursorPagination(CursorPagination):
    """Stable pages over rows ordered newest first; ``?cursor=`` from ``next``/``previous``."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request):
        # DRF answers a bad cursor 404; it is a bad request parameter.
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise serializers.ValidationError({"cursor": ["Invalid cursor."]}) from exc
