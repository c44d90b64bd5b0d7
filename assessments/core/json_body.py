"""Parse a JSON request body without letting its shape hurt the server.

``json.loads`` recurses once per nested array or object: a body of a few kilobytes of
``[[[[...`` raises ``RecursionError`` (a 500), and deep values go on to break whatever walks
them next. The nesting is measured first, in one pass over the text that recurses nowhere.
"""

from __future__ import annotations

import json
from typing import Any

#: Deeper than any answer or API request needs; far below Python's recursion limit.
MAX_JSON_DEPTH = 32


class JsonBodyError(ValueError):
    """The body is not JSON, or is nested deeper than ``MAX_JSON_DEPTH``."""


def json_nesting_depth(text: str) -> int:
    """Return how deeply the arrays and objects of JSON ``text`` nest (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def json_body_parse(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Return the parsed body, or raise ``JsonBodyError`` with a message for the client.

    Strict JSON: ``NaN`` and ``Infinity``, which Python's decoder accepts, are refused.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise JsonBodyError("The request body is not UTF-8.") from exc
    if json_nesting_depth(text) > max_depth:
        raise JsonBodyError(f"The JSON is nested more than {max_depth} levels deep.")
    try:
        return json.loads(text or "{}", parse_constant=_refuse_constant)
    except ValueError as exc:
        raise JsonBodyError(f"The request is not valid JSON: {str(exc)[:200]}") from exc
