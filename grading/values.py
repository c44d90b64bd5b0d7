"""Read values the way people and PyTorch write them, without ever evaluating code.

Three readers:
- ``parse_tensor_text``: a value a candidate types (``tensor([[-1., 1.]])``, a nested list,
  a number) or a tensor as PyTorch prints it, into a ``TensorValue``;
- ``printed_outputs_match``: whether two program outputs say the same thing, comparing
  numbers with tolerance and ignoring autograd decoration (``grad_fn=...``);
- ``parse_exception_text``: ``"RuntimeError: message"`` into class and message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

MAX_ELEMENTS = 1_000_000
#: Deepest nesting of brackets read from typed text (a tensor has far fewer dimensions).
MAX_NESTING = 32


class ValueParseError(ValueError):
    """The text is not a value we can read; the message says where and why."""


@dataclass(frozen=True)
class TensorValue:
    """A tensor's shape and its elements in row-major order, as floats."""

    shape: tuple[int, ...]
    values: tuple[float, ...]


def _number(token: Any) -> float:
    if isinstance(token, bool):
        return 1.0 if token else 0.0
    if isinstance(token, int | float):
        return float(token)
    if isinstance(token, str) and token in {"nan", "inf", "-inf"}:
        return float(token)
    raise ValueParseError(f"{token!r} is not a number")


def _from_nested(data: Any) -> TensorValue:
    if not isinstance(data, list):
        return TensorValue(shape=(), values=(_number(data),))
    flat: list[float] = []

    def walk(node: Any, depth: int, shape: list[int]) -> None:
        if isinstance(node, list):
            if len(shape) <= depth:
                shape.append(len(node))
            elif shape[depth] != len(node):
                raise ValueParseError("rows of different lengths: not a tensor")
            for child in node:
                walk(child, depth + 1, shape)
        else:
            if depth != len(shape):
                raise ValueParseError("mixed nesting depths: not a tensor")
            flat.append(_number(node))
            if len(flat) > MAX_ELEMENTS:
                raise ValueParseError("too many elements")

    shape: list[int] = []
    walk(data, 0, shape)
    return TensorValue(shape=tuple(shape), values=tuple(flat))


_TOKEN = re.compile(
    r"\s*(?:(?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf))"
    r"|(?P<bool>True|False)|(?P<punct>[\[\],]))"
)


def _parse_literal(text: str) -> Any:
    """Parse a nested list of numbers (or one number) written as PyTorch or Python would."""
    position = 0
    tokens: list[tuple[str, str, int]] = []
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            snippet = text[position : position + 12].strip()
            raise ValueParseError(f"unexpected {snippet!r} at character {position + 1}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    if not tokens:
        raise ValueParseError("no value given")
    index = 0

    def parse(level: int = 0) -> Any:
        nonlocal index
        if index >= len(tokens):
            raise ValueParseError("the value ends too early (a bracket is not closed?)")
        kind, value, where = tokens[index]
        index += 1
        if kind == "num":
            return float(value) if value not in {"nan", "inf", "-inf"} else value
        if kind == "bool":
            return value == "True"
        if value != "[":
            raise ValueParseError(f"unexpected {value!r} at character {where + 1}")
        if level >= MAX_NESTING:
            raise ValueParseError(f"more than {MAX_NESTING} levels of brackets")
        items: list[Any] = []
        if index < len(tokens) and tokens[index][1] == "]":
            index += 1
            return items
        while True:
            items.append(parse(level + 1))
            if index >= len(tokens):
                raise ValueParseError("a '[' is never closed")
            _, separator, where = tokens[index]
            index += 1
            if separator == "]":
                return items
            if separator != ",":
                raise ValueParseError(f"expected ',' or ']' at character {where + 1}")
            if index < len(tokens) and tokens[index][1] == "]":  # trailing comma
                index += 1
                return items

    result = parse()
    if index != len(tokens):
        raise ValueParseError(
            f"unexpected {tokens[index][1]!r} at character {tokens[index][2] + 1}"
        )
    return result


_KWARG = re.compile(r",\s*(grad_fn=<[^>]*>|requires_grad=True|dtype=torch\.\w+|device='[^']*')\s*")
_SIZE_KWARG = re.compile(r",\s*size=\(([\d,\s]*)\)\s*")


def parse_tensor_text(text: str) -> TensorValue:
    """Read ``tensor([...])``, ``[[...]]`` or a number; raise ``ValueParseError`` if unreadable."""
    if not isinstance(text, str) or not text.strip():
        raise ValueParseError("no value given")
    if len(text) > 200_000:
        raise ValueParseError("the value is too long")
    body = text.strip()
    body = re.sub(r"^Parameter containing:\s*", "", body)
    size: tuple[int, ...] | None = None
    if body.startswith("tensor("):
        if not body.endswith(")"):
            raise ValueParseError("'tensor(' is never closed")
        body = body[len("tensor(") : -1]
        size_match = _SIZE_KWARG.search(body)
        if size_match:
            parts = [part for part in size_match.group(1).replace(" ", "").split(",") if part]
            if len(parts) > MAX_NESTING or any(len(part) > 9 for part in parts):
                raise ValueParseError("the size is not a tensor's size")
            size = tuple(int(part) for part in parts)
            body = _SIZE_KWARG.sub("", body)
        body = _KWARG.sub("", body)
    if "..." in body:
        raise ValueParseError("a summarized tensor ('...') cannot be compared element by element")
    value = _from_nested(_parse_literal(body))
    if size is not None and not value.values:
        return TensorValue(shape=size, values=())
    return value


def close(actual: float, expected: float, *, atol: float, rtol: float) -> bool:
    """Return whether two numbers agree within ``atol + rtol * |expected|`` (nan equals nan)."""
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return abs(actual - expected) <= atol + rtol * abs(expected)


def compare_tensors(
    actual: TensorValue, expected: TensorValue, *, atol: float, rtol: float
) -> tuple[bool, str]:
    """Return (equal, reason) for two tensors: same shape, every element close."""
    if actual.shape != expected.shape:
        return False, f"shape {list(actual.shape)} instead of {list(expected.shape)}"
    for index, (a, e) in enumerate(zip(actual.values, expected.values, strict=True)):
        if not close(a, e, atol=atol, rtol=rtol):
            return False, f"element {index} is {a:g}, not within tolerance"
    return True, "equal within tolerance"


_DECORATION = re.compile(r",\s*(?:grad_fn=<[^>]*>|requires_grad=True)")
_OUTPUT_TOKEN = re.compile(
    r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])|(?<![\w.])-?(?:nan|inf)(?!\w)"
)


def _output_tokens(text: str) -> list[tuple[str, Any]]:
    text = _DECORATION.sub("", text)
    tokens: list[tuple[str, Any]] = []
    position = 0
    for match in _OUTPUT_TOKEN.finditer(text):
        between = " ".join(text[position : match.start()].split())
        if between:
            tokens.append(("text", between))
        tokens.append(("num", float(match.group())))
        position = match.end()
    rest = " ".join(text[position:].split())
    if rest:
        tokens.append(("text", rest))
    return tokens


def printed_outputs_match(expected: str, actual: str, *, atol: float, rtol: float) -> bool:
    """Return whether two printed outputs say the same thing.

    Numbers are compared with tolerance, white space is folded, and autograd decoration
    (``grad_fn=<...>``, ``requires_grad=True``) is ignored; all other text must be equal.
    """
    left, right = _output_tokens(expected), _output_tokens(actual)
    if len(left) != len(right):
        return False
    for (kind_l, value_l), (kind_r, value_r) in zip(left, right, strict=True):
        if kind_l != kind_r:
            return False
        if kind_l == "num":
            if not close(value_r, value_l, atol=atol, rtol=rtol):
                return False
        elif value_l != value_r:
            return False
    return True


_EXCEPTION = re.compile(r"^\s*(?:[\w.]+\.)?(?P<cls>[A-Za-z_]\w*)\s*(?::\s*(?P<msg>.*))?$", re.S)


def parse_exception_text(text: str) -> tuple[str, str]:
    """Split ``"torch.RuntimeError: message"`` into (``RuntimeError``, ``message``)."""
    match = _EXCEPTION.match(text or "")
    if match is None:
        raise ValueParseError("write the exception class, optionally ': message'")
    return match.group("cls"), " ".join((match.group("msg") or "").split())
