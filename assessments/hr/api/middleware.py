"""JSON errors for every answer under ``/api/`` and ``/greenhouse/``, whoever produced them.

DRF's exception handler shapes the errors raised inside a view. What happens outside one
would otherwise be Django's HTML: a path no route matches or an id that is not a UUID (the
404 page, listing the routes when DEBUG is on), a body over the size limit, a bug (500).
This middleware, first in ``MIDDLEWARE``, answers those in the same shape; a 500 carries an
``error_id`` that is also in the log line with the traceback, and nothing internal.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from assessments.core.request_limits import declared_length
from assessments.hr.api.errors import FALLBACK_CODE, STATUS_CODES, error_body

logger = logging.getLogger(__name__)

JSON_ERROR_PREFIXES = ("/api/", "/greenhouse/")


def json_error(status: int, *, error_id: str | None = None) -> JsonResponse:
    """Return an error answer in the API's shape for ``status``."""
    if status >= 500:
        error_id = error_id or uuid.uuid4().hex
        body = error_body(
            status, "server_error", f"Something went wrong on our side; quote {error_id}."
        )
        body["error"]["error_id"] = error_id
        return JsonResponse(body, status=status)
    code, message = STATUS_CODES.get(status, FALLBACK_CODE)
    return JsonResponse(error_body(status, code, message), status=status)


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _declared_too_large(request: HttpRequest) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit is not None and declared_length(request) > limit


class JsonErrorsMiddleware:
    """Answer every error under the API's prefixes as JSON (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(JSON_ERROR_PREFIXES):
            return self.get_response(request)
        if _declared_too_large(request):
            return json_error(413)
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            if response.status_code >= 500:
                error_id = uuid.uuid4().hex
                # Django logged the traceback already; this line ties it to the id we show.
                logger.error("error %s: %s %s answered %s", error_id, request.method,
                             request.path, response.status_code)  # fmt: skip
                return json_error(response.status_code, error_id=error_id)
            return json_error(response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not request.path_info.startswith(JSON_ERROR_PREFIXES):
            return None
        if isinstance(exception, RequestDataTooBig):
            return json_error(413)
        if isinstance(exception, Http404):
            return json_error(404)
        if isinstance(exception, SuspiciousOperation):
            return json_error(400)
        error_id = uuid.uuid4().hex
        logger.error(
            "error %s: %s %s raised", error_id, request.method, request.path, exc_info=exception
        )
        return json_error(500, error_id=error_id)
