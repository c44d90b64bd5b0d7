"""The API's JSON parser: a bounded body, a bounded depth, strict JSON.

A body is read up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (more is a 413) and may nest at
most ``MAX_JSON_DEPTH`` arrays and objects (more is a 400), measured before decoding
(``assessments.core.json_body``, which the candidate pages use too).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from assessments.core.json_body import JsonBodyError, json_body_parse
from assessments.hr.api.errors import RequestTooLarge


class BoundedJSONParser(JSONParser):
    """Parse a JSON body no larger than the upload limit and no deeper than the depth limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge()
        if not raw:
            raise ParseError("The body is empty; send a JSON object.")
        try:
            return json_body_parse(raw)
        except JsonBodyError as exc:
            raise ParseError(str(exc)) from exc
