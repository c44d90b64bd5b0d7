"""``Idempotency-Key``: the same key and request get the first answer again.

The same key with a different request is refused (422); while the first request is still
being processed, a second one with its key is refused (409). A request whose processing
failed (an error, or a crash) leaves no record, so it can be retried with the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.models import IdempotencyRecord
from assessments.hr.api.errors import Conflict, Unprocessable

HEADER = "Idempotency-Key"
# A record still "processing" this long after it was made belongs to a request that died.
ABANDONED_AFTER = timedelta(seconds=60)


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _claim(request, api_key, key: str, digest: str) -> IdempotencyRecord | Response:
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    organization_id=api_key.organization_id,
                    api_key=api_key,
                    key=key,
                    request_hash=digest,
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
            if existing is None:
                continue  # the other request failed and gave its key back: claim it
        if existing.request_hash != digest:
            raise Unprocessable(f"This {HEADER} was used with a different request.")
        if existing.state == IdempotencyRecord.State.DONE:
            return Response(
                existing.response_body,
                status=existing.response_status,
                headers={"Idempotent-Replayed": "true"},
            )
        if timezone.now() - existing.created_at < ABANDONED_AFTER:
            raise Conflict(f"A request with this {HEADER} is still being processed.")
        existing.delete()
    raise Conflict(f"A request with this {HEADER} is still being processed.")


def idempotent(request, api_key, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` at most once per idempotency key (when the request sends one)."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    key = key.strip()
    if not 1 <= len(key) <= 255:
        raise ValidationError({HEADER: ["Must be 1 to 255 characters."]})
    claimed = _claim(request, api_key, key, _fingerprint(request))
    if isinstance(claimed, Response):
        return claimed
    try:
        response = handler()
    except BaseException:
        claimed.delete()
        raise
    claimed.state = IdempotencyRecord.State.DONE
    claimed.response_status = response.status_code
    claimed.response_body = json.loads(json.dumps(response.data, default=str))
    claimed.save(update_fields=["state", "response_status", "response_body"])
    return response
