"""One JSON shape for every error the API answers.

``{"error": {"status": 404, "code": "not_found", "message": "...", "fields": {...}}}``:
``fields`` maps a request field (dotted for nested ones) to its messages, for 400s. The
body stays small whatever the request held: at most ``MAX_ERROR_FIELDS`` fields are listed
(``fields_omitted`` counts the rest) and names and messages are cut to a bounded length.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

MAX_ERROR_FIELDS = 50
MAX_FIELD_NAME_CHARS = 200
MAX_MESSAGE_CHARS = 500
MAX_MESSAGES_PER_FIELD = 5

# The code and the message of each status, wherever the error is answered (a view, or the
# middleware for what happens outside one): one wording per status. docs/api.md's table lists
# every code (tests/api/test_error_codes.py checks it).
STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("invalid", "The request is not valid."),
    401: ("not_authenticated", "Authentication is required."),
    403: ("permission_denied", "You may not do this."),
    404: ("not_found", "Not found: no such object in your organization, or no such path."),
    405: ("method_not_allowed", "This method is not allowed here."),
    406: (
        "not_acceptable",
        "This path cannot answer in the format the Accept header asks for.",
    ),
    413: ("too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send the body as application/json."),
}
# A status no entry above covers (none is expected): still the one shape, with this code.
FALLBACK_CODE = ("error", "The request failed.")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"
    default_detail = "The request cannot be processed."


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is too large."


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into {"candidate.email": ["..."]}."""
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix or "non_field_errors"
            for field, messages in _flatten(value, name).items():
                fields.setdefault(field, []).extend(messages)
        return fields
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        fields = {}
        for index, item in enumerate(detail):
            for field, messages in _flatten(item, f"{prefix}[{index}]").items():
                fields.setdefault(field, []).extend(messages)
        return fields
    return {prefix or "non_field_errors": [str(detail)]}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded_fields(fields: dict[str, list[str]]) -> tuple[dict[str, list[str]], int]:
    """Return at most ``MAX_ERROR_FIELDS`` fields with cut names and messages, and how many
    were left out (a request with thousands of bad fields gets a small answer)."""
    kept = {
        _cut(name, MAX_FIELD_NAME_CHARS): [
            _cut(message, MAX_MESSAGE_CHARS) for message in messages[:MAX_MESSAGES_PER_FIELD]
        ]
        for name, messages in list(fields.items())[:MAX_ERROR_FIELDS]
    }
    return kept, max(0, len(fields) - MAX_ERROR_FIELDS)


def error_body(status_code: int, code: str, message: str, fields=None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"], omitted = bounded_fields(fields)
        if omitted:
            body["fields_omitted"] = omitted
    return {"error": body}


def exception_handler(exc, context):
    """DRF's exception handler, answering every error in the API's one shape."""
    if isinstance(exc, Http404 | exceptions.NotFound):
        exc = exceptions.NotFound(STATUS_CODES[404][1])
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: the JSON errors middleware answers it (and logs it with an id)
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if isinstance(exc, exceptions.Throttled):
        return _throttled(exc)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "The request is not valid; see fields."
        body = error_body(exc.status_code, "invalid", message, fields)
    else:
        detail = exc.detail
        message = str(detail if not isinstance(detail, list | dict) else exc.default_detail)
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        body = error_body(exc.status_code, code, _cut(message, MAX_MESSAGE_CHARS))
    return Response(body, status=exc.status_code, headers=headers)


def whole_seconds_to_wait(wait: float | None) -> int:
    """Return the whole seconds to wait, rounded up (at least 1): the one figure a 429 gives in
    its message, ``retry_after`` and the ``Retry-After`` header."""
    return max(1, math.ceil(wait or 0))


def _throttled(exc: exceptions.Throttled) -> Response:
    seconds = whole_seconds_to_wait(exc.wait)
    unit = "second" if seconds == 1 else "seconds"
    message = f"Too many requests: retry in {seconds} {unit}."
    body = error_body(exc.status_code, "throttled", message)
    body["error"]["retry_after"] = seconds
    return Response(body, status=exc.status_code, headers={"Retry-After": str(seconds)})
