"""What every API view shares: key authentication, the rate limits, the key's tenant context,
request serializers that refuse unknown fields and values of the wrong JSON type, and cursor
pagination that refuses a cursor it did not make."""

from __future__ import annotations

from datetime import UTC

from django.utils.dateparse import parse_datetime
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.views import APIView

from accounts.tenancy import tenant_enter, tenant_leave
from assessments.hr.api.auth import (
    ApiClient,
    ApiKeyAuthentication,
    ApiKeyRateThrottle,
    authentication_failures_guard,
)


class OrganizationScopedMixin:
    # Not a docstring: drf-spectacular would publish it as every operation's description.
    # Authentication happens inside DRF's dispatch; the tenant context is entered right
    # after it (``initial``) and always left when the view returns, whatever happened.

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [ApiKeyRateThrottle]

    def perform_authentication(self, request):
        with authentication_failures_guard(request):
            super().perform_authentication(request)

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


# The JSON types a request field accepts; DRF would otherwise coerce 42 to "42" and "yes" to
# true. Decimals travel as strings ("1.50"), exactly as the answers show them.
_JSON_TYPES: list[tuple[type[serializers.Field], tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "Must be a JSON boolean (true or false)."),
    (serializers.IntegerField, (int,), "Must be a JSON integer."),
    (serializers.FloatField, (int, float), "Must be a JSON number."),
    (serializers.ListField, (list,), "Must be a JSON array."),
    (serializers.DictField, (dict,), "Must be a JSON object."),
    (serializers.Serializer, (dict,), "Must be a JSON object."),
    (serializers.CharField, (str,), "Must be a JSON string."),
    (serializers.ChoiceField, (str,), "Must be a JSON string."),
    (serializers.UUIDField, (str,), "Must be a JSON string."),
    (serializers.DateTimeField, (str,), "Must be a JSON string (ISO 8601)."),
    (serializers.DecimalField, (str,), 'Must be a JSON string holding a decimal, e.g. "1.50".'),
]


def json_type_error(field: serializers.Field, value: object) -> str | None:
    """Return why ``value`` is not of the JSON type ``field`` takes, or None if it is."""
    if value is None:
        return None  # the field itself says whether null is allowed
    for field_class, types, message in _JSON_TYPES:
        if isinstance(field, field_class):
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return message
            if isinstance(field, serializers.ListField):
                for item in value:
                    if (problem := json_type_error(field.child, item)) is not None:
                        return problem
            return None
    return None


class StrictSerializer(serializers.Serializer):
    # The API's request bodies: unknown fields are refused, and each value must already be
    # of its field's JSON type. (A comment, not a docstring: the schema would publish it.)
    json_types_checked = True

    def to_internal_value(self, data):
        problems = {}
        if isinstance(data, dict):
            problems = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            if self.json_types_checked:
                for name, field in self.fields.items():
                    if name in data and (error := json_type_error(field, data[name])):
                        problems[name] = [error]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # Report these together with every other problem, in one answer.
            if problems and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **problems}) from exc
            raise
        if problems:
            raise serializers.ValidationError(problems)
        return value


class QueryParametersSerializer(StrictSerializer):
    # Query strings hold text only: their values are parsed, not type-checked.
    json_types_checked = False


class PageParametersSerializer(QueryParametersSerializer):
    """The query parameters of a list: where to start and how many items per page."""

    cursor = serializers.CharField(
        required=False, max_length=1000, help_text="A page's `next` or `previous` cursor."
    )
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=200,
        help_text="Items per page, 1 to 200; 50 if omitted.",
    )


class CreatedCursorPagination(CursorPagination):
    """Stable pages over rows ordered newest first; ``?cursor=`` from ``next``/``previous``."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request):
        # DRF answers a bad cursor 404, and passes any position it decodes to the database
        # (a made-up one is a 500 there): both are a bad request parameter.
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise _invalid_cursor() from exc
        if cursor is not None and cursor.position is not None:
            try:
                when = parse_datetime(cursor.position) if len(cursor.position) < 64 else None
                if when is None or when.tzinfo is None:
                    raise ValueError(cursor.position)
                when.astimezone(UTC)
            except (ValueError, OverflowError) as exc:
                raise _invalid_cursor() from exc
        return cursor


def _invalid_cursor() -> serializers.ValidationError:
    return serializers.ValidationError({"cursor": ["Invalid cursor."]})
