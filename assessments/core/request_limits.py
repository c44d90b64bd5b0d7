"""Find a body Django would refuse before any view reads it, to answer in the site's own shape.

Django refuses a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and a form of more than
``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields by raising while the body is read. Whoever reads it
first (for a form post, ``CsrfViewMiddleware``, before the view) meets the exception, and
Django answers with its own bare 400 page. The middlewares that answer errors in their own
shape (the API's JSON, the candidate pages') look here first.
"""

from __future__ import annotations

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, UnreadablePostError
from django.http.multipartparser import MultiPartParserError


def declared_length(request: HttpRequest) -> int:
    """Return the length the client declares for its body (0 when absent or not a number)."""
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def body_refusal(request: HttpRequest) -> int | None:
    """Read the body and its form fields now; return 413 or 400 if Django refuses them.

    Reading the raw body first keeps it readable later (``request.body`` after a multipart
    form was parsed from the stream raises), so bound the body before calling this.
    """
    try:
        request.body  # noqa: B018 (read for its effect: the body is kept on the request)
        request.POST  # noqa: B018 (parsed now, where a refusal can be answered)
    except RequestDataTooBig:
        return 413
    except (SuspiciousOperation, BadRequest, MultiPartParserError, UnreadablePostError):
        # Too many fields or files, a malformed multipart body, a client gone mid-body.
        return 400
    return None
