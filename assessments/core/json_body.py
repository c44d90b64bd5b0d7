"""Parse a JSON request body without letting its shape hurt the server.

``json.loads`` recurses once per nested array or object: a body of a few kilobytes of
``[[[[...`` raises ``RecursionError`` (a 500), and deep values go on to break whatever walks
them next. The nesting is measured first, in one pass over the text that recurses nowhere.

Numbers are bounded too: Python reads ``1e999`` as ``inf`` (which ``int()`` cannot convert
and PostgreSQL cannot store in JSON) and ``1`` followed by a hundred zeros as an integer no
database column holds. Both are refused here, so no caller meets them.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Deeper than any answer or API request needs; far below Python's recursion limit.
MAX_JSON_DEPTH = 32
#: The largest integer a body may carry: fits PostgreSQL's bigint, beyond any real count.
MAX_JSON_INT = 10**18


class JsonBodyError(ValueError):
    """The body is not JSON, is nested deeper than ``MAX_JSON_DEPTH`` or has a number too large."""


class _NumberTooLarge(ValueError):
    pass


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


def _bounded_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberTooLarge(text)
    return value


def _bounded_int(text: str) -> int:
    # The length first: converting thousands of digits is itself slow.
    if len(text) > 20 or abs(value := int(text)) > MAX_JSON_INT:
        raise _NumberTooLarge(text)
    return value


def json_body_parse(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Return the parsed body, or raise ``JsonBodyError`` with a message for the client.

    Strict JSON: ``NaN`` and ``Infinity``, which Python's decoder accepts, are refused, and
    so are numbers that overflow a float (``1e999``) or exceed ``MAX_JSON_INT``.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise JsonBodyError("The request body is not UTF-8.") from exc
    if json_nesting_depth(text) > max_depth:
        raise JsonBodyError(f"The JSON is nested more than {max_depth} levels deep.")
    try:
        return json.loads(
            text or "{}",
            parse_constant=_refuse_constant,
            parse_float=_bounded_float,
            parse_int=_bounded_int,
        )
    except _NumberTooLarge as exc:
        raise JsonBodyError(
            f"A number in the request is too large ({str(exc)[:40]}): numbers must be finite and "
            "at most 10^18."
        ) from exc
    except ValueError as exc:
        raise JsonBodyError(f"The request is not valid JSON: {str(exc)[:200]}") from exc
