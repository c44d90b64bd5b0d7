"""One JSON shape for every error the API answers.

``{"error": {"status": 404, "code": "not_found", "message": "...", "fields": {...}}}``:
``fields`` maps a request field (dotted for nested ones) to its messages, for 400s. The
body stays small whatever the request held: at most ``MAX_ERROR_FIELDS`` fields are listed
(``fields_omitted`` counts the rest) and names and messages are cut to a bounded length.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

MAX_ERROR_FIELDS = 50
MAX_FIELD_NAME_CHARS = 200
MAX_MESSAGE_CHARS = 500
MAX_MESSAGES_PER_FIELD = 5


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
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: the JSON errors middleware answers it (and logs it with an id)
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait) + 1)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "The request is not valid; see fields."
        body = error_body(exc.status_code, "invalid", message, fields)
    else:
        detail = exc.detail
        message = str(detail if not isinstance(detail, list | dict) else exc.default_detail)
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        body = error_body(exc.status_code, code, _cut(message, MAX_MESSAGE_CHARS))
        if isinstance(exc, exceptions.Throttled):
            body["error"]["retry_after"] = int(exc.wait or 0) + 1
    return Response(body, status=exc.status_code, headers=headers)
