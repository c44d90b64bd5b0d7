"""The API's JSON parser: a bounded body, a bounded depth, strict JSON.

A body is read up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (more is a 413) and may nest at
most ``MAX_JSON_DEPTH`` arrays and objects (more is a 400): deep nesting would otherwise
exhaust the interpreter's recursion in the decoder or in any code that walks the data.
"""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from assessments.hr.api.errors import RequestTooLarge

MAX_JSON_DEPTH = 32


def json_depth_exceeds(value: object, limit: int) -> bool:
    """Return whether ``value`` nests more than ``limit`` arrays and objects (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(JSONParser):
    """Parse a JSON body no larger than the upload limit and no deeper than the depth limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge()
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(f"The body is not valid JSON: {str(exc)[:200]}") from exc
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        return data
