"""What every API view shares: key authentication, the rate limits, the key's tenant context,
request serializers that refuse unknown fields and values of the wrong JSON type, and cursor
pagination whose cursors are signed (one it did not make is a 400)."""

from __future__ import annotations

from datetime import UTC

from django.core import signing
from django.utils.dateparse import parse_datetime
from rest_framework import permissions, serializers
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.utils.urls import replace_query_param
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
    """Stable pages over rows ordered newest first; ``?cursor=`` from ``next``/``previous``.

    A cursor is DRF's (offset, reverse, position) as JSON, signed with ``SECRET_KEY`` for the
    list that made it: a cursor the API did not make, changed by hand, or made for another
    list is a 400 before anything in it is used. What a valid signature covers is still
    checked strictly (only our keys, an offset within DRF's cutoff, a position that is an
    aware timestamp), so a cursor signed by an earlier release cannot reach the database.
    """

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def _salt(self, path: str) -> str:
        return f"api.cursor:{path}"

    def paginate_queryset(self, queryset, request, view=None):
        self._path = request.path_info
        return super().paginate_queryset(queryset, request, view)

    def encode_cursor(self, cursor: Cursor) -> str:
        payload = {"o": cursor.offset, "r": bool(cursor.reverse), "p": cursor.position}
        signed = signing.dumps(payload, salt=self._salt(self._path))
        return replace_query_param(self.base_url, self.cursor_query_param, signed)

    def decode_cursor(self, request) -> Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            payload = signing.loads(encoded, salt=self._salt(request.path_info))
        except (signing.BadSignature, ValueError, UnicodeError) as exc:
            raise _invalid_cursor() from exc
        cursor = _cursor_from(payload, offset_cutoff=self.offset_cutoff)
        if cursor is None:
            raise _invalid_cursor()
        return cursor


_CURSOR_KEYS = {"o", "r", "p"}


def _cursor_from(payload: object, *, offset_cutoff: int) -> Cursor | None:
    """Return the cursor ``payload`` describes, or None if it is not exactly one of ours."""
    if not isinstance(payload, dict) or set(payload) != _CURSOR_KEYS:
        return None
    offset, reverse, position = payload["o"], payload["r"], payload["p"]
    if isinstance(offset, bool) or not isinstance(offset, int):
        return None
    if not 0 <= offset <= offset_cutoff or not isinstance(reverse, bool):
        return None
    if position is not None and not _is_aware_timestamp(position):
        return None
    return Cursor(offset=offset, reverse=reverse, position=position)


def _is_aware_timestamp(position: object) -> bool:
    if not isinstance(position, str) or len(position) >= 64:
        return False
    try:
        when = parse_datetime(position)
        if when is None or when.tzinfo is None:
            return False
        when.astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


def _invalid_cursor() -> serializers.ValidationError:
    return serializers.ValidationError({"cursor": ["Invalid cursor."]})
