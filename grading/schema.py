"""The one schema of what crosses from a sandbox job to the worker, and its reader.

Everything a job hands back is hostile until read here: the sandbox converts the job's
objects to plain JSON (``grading/sandbox/values.py``), but the job chooses those objects,
may forge any encoding (a dict ``{"type": "tensor", ...}`` is sent exactly like a tensor)
and may overwrite the harness's results. Nothing from a job is used before it passes this
schema (documented for authors in ``docs/grading.md``):

- The response: a known ``verdict``; ``stdout``/``stderr`` strings (cut to
  ``MAX_OUTPUT_CHARS``); ``exception`` null or string ``type``/``message``/``traceback``
  (capped); ``values`` an object; ``wall_ms``/``cpu_ms`` finite non-negative numbers (else
  unknown); ``message`` null or the server's own string for the verdict (capped). A
  response that is not an object or names an unknown verdict is our failure
  (``SandboxResponseInvalid``, retried), never the candidate's.
- A comparable value is one of: a number (an integer within +-2**63, a finite float, or
  the markers ``"nan"``, ``"inf"``, ``"-inf"``), a bool, a nested list of numbers with
  rows of equal length, or a tensor/array ``{"type": "tensor"|"ndarray", "dtype": str,
  "shape": [int, ...], "data": nested list, "complex"?: bool}`` whose shape has at most
  ``MAX_DIMS`` non-negative whole numbers, whose element count is at most ``MAX_ELEMENTS``
  and whose data matches the shape exactly (``[real, imaginary]`` innermost when complex).
  Bools are elements only of ``bool`` tensors. Anything else (a string, a dict, a huge
  integer, a truncated or unconvertible value) is described, not compared.

Reading never raises anything but ``SchemaError`` (whose message completes "your function
returned ..."), and its work is bounded by the limits above, not by what the job sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from grading.sandbox.client import SandboxUnavailable
from grading.values import TensorValue, ValueParseError, compare_tensors

VERDICTS = frozenset(
    {"ok", "error", "time_limit", "memory_limit", "output_limit", "forbidden", "interrupted"}
)
MAX_OUTPUT_CHARS = 64_000
EXCEPTION_CAPS = {"type": 200, "message": 8_000, "traceback": 32_000}
MAX_DIMS = 32
MAX_ELEMENTS = 1_000_000
INT_BOUND = 2**63
NUMBER_MARKERS = frozenset({"nan", "inf", "-inf"})
TENSOR_KEYS = frozenset({"type", "dtype", "shape", "data", "complex", "truncated"})
NOUNS = {
    "tensor": "a tensor",
    "ndarray": "a NumPy array",
    "list": "a list",
    "number": "a number",
    "bool": "a bool",
}


class SchemaError(ValueParseError):
    """A value outside the schema; the message completes "your function returned ..."."""


class SandboxResponseInvalid(SandboxUnavailable):
    """The sandbox's response itself is malformed: our failure, retried like an outage."""


@dataclass(frozen=True)
class RunReport:
    """A sandbox response after validation: only these fields are ever used."""

    verdict: str
    stdout: str
    stderr: str
    exception: dict[str, str] | None
    values: dict[str, Any]
    wall_ms: float | None
    cpu_ms: float | None
    torch_version: str
    sandbox_error: str | None
    #: The server's own words for the verdict (a limit and its size; for ``error`` the
    #: exception's type or why no result came): written by the sandbox, not by the job.
    message: str | None = None


def _capped(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _duration(value: Any) -> float | None:
    if type(value) in (int, float) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def read_report(response: Any) -> RunReport:
    """Validate a sandbox response; raise ``SandboxResponseInvalid`` when it is not one."""
    if not isinstance(response, dict):
        raise SandboxResponseInvalid("the sandbox's response is not an object")
    verdict = response.get("verdict")
    if verdict not in VERDICTS:
        raise SandboxResponseInvalid(f"unknown sandbox verdict {str(verdict)[:50]!r}")
    raw_exception = response.get("exception")
    exception = None
    if isinstance(raw_exception, dict):
        exception = {
            key: _capped(raw_exception.get(key), cap) for key, cap in EXCEPTION_CAPS.items()
        }
    values = response.get("values")
    sandbox_error = response.get("sandbox_error")
    return RunReport(
        verdict=verdict,
        stdout=_capped(response.get("stdout"), MAX_OUTPUT_CHARS),
        stderr=_capped(response.get("stderr"), MAX_OUTPUT_CHARS),
        exception=exception,
        values=values if isinstance(values, dict) else {},
        wall_ms=_duration(response.get("wall_ms")),
        cpu_ms=_duration(response.get("cpu_ms")),
        torch_version=_capped(response.get("torch_version"), 100),
        sandbox_error=sandbox_error[:2000] if isinstance(sandbox_error, str) else None,
        message=_capped(response.get("message"), 500) or None,
    )


def describe(plain: Any) -> str:
    """Name what a plain value is, for a message ("a list", "a string", ...)."""
    kind = type(plain)
    if plain is None:
        return "None"
    if kind is bool:
        return "a bool"
    if kind is int:
        in_bounds = -INT_BOUND <= plain <= INT_BOUND
        return "an integer" if in_bounds else "an integer too large to compare"
    if kind is float or (kind is str and plain in NUMBER_MARKERS):
        return "a number"
    if kind is str:
        return "a string"
    if kind is list:
        return "a list"
    if kind is dict:
        tag = plain.get("type")
        return {
            "tensor": "a tensor",
            "ndarray": "a NumPy array",
            "int": "an integer too large to compare",
            "repr": "an object that is not a tensor, number or list",
            "truncated": "a value too large or too deeply nested to send back",
            "error": "a value that could not be converted",
        }.get(tag if type(tag) is str else "", "a dict")
    return "a value of an unknown kind"


@dataclass(frozen=True)
class Value:
    """A comparable value: its kind ("tensor", "ndarray", "list", "number", "bool")."""

    kind: str
    tensor: TensorValue
    dtype: str = ""
    complex: bool = False

    @property
    def noun(self) -> str:
        """Return how a message names this kind of value."""
        return NOUNS[self.kind]


def _element(item: Any, *, allow_bool: bool) -> float:
    kind = type(item)
    if kind is float:
        return item
    if kind is int:
        if -INT_BOUND <= item <= INT_BOUND:
            return float(item)
        raise SchemaError("an integer too large to compare")
    if kind is bool and allow_bool:
        return float(item)
    if kind is str and item in NUMBER_MARKERS:
        return float(item)
    raise SchemaError(f"{describe(item)} where a number belongs")


def _shape_of_first_row(data: Any) -> list[int]:
    shape: list[int] = []
    node = data
    while type(node) is list:
        if len(shape) >= MAX_DIMS:
            raise SchemaError(f"a list nested deeper than {MAX_DIMS} levels")
        shape.append(len(node))
        if not node:
            break
        node = node[0]
    return shape


def _element_count(shape: list[int], what: str) -> int:
    count = 1
    for size in shape:
        count *= size
        if count > MAX_ELEMENTS:
            raise SchemaError(f"{what} with more than {MAX_ELEMENTS} elements")
    return count


def _read_nested(data: Any, shape: list[int], *, allow_bool: bool, mismatch: str) -> tuple:
    """Return the elements of ``data`` in row-major order; it must have exactly ``shape``."""
    flat: list[float] = []
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth == len(shape):
            flat.append(_element(node, allow_bool=allow_bool))
        elif type(node) is not list or len(node) != shape[depth]:
            raise SchemaError(mismatch)
        else:
            stack.extend((child, depth + 1) for child in reversed(node))
    return tuple(flat)


def _read_tensor(plain: dict[str, Any]) -> Value:
    kind = plain["type"]
    noun = NOUNS[kind]
    if not set(plain) <= TENSOR_KEYS:
        raise SchemaError(f"{noun} with unexpected fields")
    dtype, shape, is_complex = plain.get("dtype"), plain.get("shape"), plain.get("complex", False)
    if type(dtype) is not str or len(dtype) > 40:
        raise SchemaError(f"{noun} without a valid dtype")
    if type(is_complex) is not bool:
        raise SchemaError(f"{noun} with an invalid complex flag")
    if type(shape) is not list or len(shape) > MAX_DIMS:
        raise SchemaError(f"{noun} whose shape is not a list of at most {MAX_DIMS} whole numbers")
    for size in shape:
        if type(size) is not int:
            raise SchemaError(f"{noun} whose shape is not a list of whole numbers")
        if size < 0:
            raise SchemaError(f"{noun} with a negative dimension")
        if size > MAX_ELEMENTS:
            raise SchemaError(f"{noun} with more than {MAX_ELEMENTS} elements")
    _element_count(shape, noun)
    if plain.get("truncated") is True or plain.get("data") is None:
        raise SchemaError(f"{noun} too large to send back, so it cannot be compared")
    data_shape = [*shape, 2] if is_complex else list(shape)
    values = _read_nested(
        plain["data"], data_shape, allow_bool=dtype == "bool",
        mismatch=f"{noun} whose data does not match its shape {shape}",
    )  # fmt: skip
    return Value(kind, TensorValue(tuple(data_shape), values), dtype=dtype, complex=is_complex)


def read_value(plain: Any) -> Value:
    """Read a comparable value (see the module's schema), or raise ``SchemaError``."""
    kind = type(plain)
    if kind is bool:
        return Value("bool", TensorValue((), (float(plain),)))
    if kind in (int, float) or (kind is str and plain in NUMBER_MARKERS):
        return Value("number", TensorValue((), (_element(plain, allow_bool=False),)))
    if kind is list:
        shape = _shape_of_first_row(plain)
        _element_count(shape, "a list")
        mismatch = "a ragged nested list (rows of different lengths or depths)"
        values = _read_nested(plain, shape, allow_bool=False, mismatch=mismatch)
        return Value("list", TensorValue(tuple(shape), values))
    if kind is dict and plain.get("type") in ("tensor", "ndarray"):
        return _read_tensor(plain)
    raise SchemaError(describe(plain))


def compare_values(actual: Value, expected: Value, *, atol: float, rtol: float) -> tuple[bool, str]:
    """Return (equal, reason): the same kind, and for numbers the same shape within tolerance."""
    if actual.kind != expected.kind:
        return False, f"your function returned {actual.noun}; {expected.noun} was expected"
    if (actual.dtype == "bool") != (expected.dtype == "bool") or actual.complex != expected.complex:
        return False, (
            f"your function returned {actual.noun} of {actual.dtype}; "
            f"{expected.noun} of {expected.dtype} was expected"
        )
    if actual.kind == "bool":
        equal = actual.tensor == expected.tensor
        return equal, "equal" if equal else "the wrong truth value"
    return compare_tensors(actual.tensor, expected.tensor, atol=atol, rtol=rtol)


def tensor_from_plain(plain: Any) -> TensorValue:
    """Return a captured value as a ``TensorValue``, or raise ``SchemaError``."""
    return read_value(plain).tensor


# Variables drawn by an author's generator (``grading/variants.py``): plain data only.
MAX_VARIABLES = 32
MAX_VARIABLE_NAME = 40
MAX_VARIABLE_TEXT = 200
MAX_VARIABLE_DEPTH = 4
MAX_VARIABLE_ELEMENTS = 4_096
FLOAT_BOUND = 1e12


def _variable_item(value: Any, name: str, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise SchemaError(f"variables with more than {MAX_VARIABLE_ELEMENTS} values in all")
    kind = type(value)
    if kind is bool:
        return value
    if kind is int:
        if abs(value) > 2**53:
            raise SchemaError(f"variable {name!r}: an integer beyond ±2**53")
        return value
    if kind is float:
        if not math.isfinite(value) or abs(value) > FLOAT_BOUND:
            raise SchemaError(f"variable {name!r}: a float that is not finite or beyond ±1e12")
        return value
    if kind is str and depth == 0:
        if value in NUMBER_MARKERS:
            raise SchemaError(f"variable {name!r}: a float that is not finite or beyond ±1e12")
        if len(value) > MAX_VARIABLE_TEXT or not value.isprintable():
            raise SchemaError(
                f"variable {name!r}: text must be printable and at most "
                f"{MAX_VARIABLE_TEXT} characters"
            )
        return value
    if kind is list:
        if depth >= MAX_VARIABLE_DEPTH:
            raise SchemaError(f"variable {name!r}: lists nested deeper than {MAX_VARIABLE_DEPTH}")
        return [_variable_item(item, name, depth + 1, budget) for item in value]
    what = "a tensor (convert it with .tolist())" if kind is dict else describe(value)
    raise SchemaError(f"variable {name!r}: {what} is not a plain value")


def read_variables(plain: Any) -> dict[str, Any]:
    """Validate what a generator returned as its variables; raise ``SchemaError`` if not plain.

    Variables are a dict of at most ``MAX_VARIABLES`` identifiers, each an int, a finite
    float, a bool, a short printable text, or a list (at most ``MAX_VARIABLE_DEPTH`` deep)
    of those except text; ``MAX_VARIABLE_ELEMENTS`` values in all.
    """
    if type(plain) is not dict:
        raise SchemaError(f"the generator must set `variables` to a dict, not {describe(plain)}")
    if len(plain) > MAX_VARIABLES:
        raise SchemaError(f"more than {MAX_VARIABLES} variables")
    budget = [MAX_VARIABLE_ELEMENTS]
    variables: dict[str, Any] = {}
    for name, value in plain.items():
        if (
            type(name) is not str
            or not name.isidentifier()
            or len(name) > MAX_VARIABLE_NAME
            or name.startswith("_")
        ):
            raise SchemaError(
                f"variable names must be identifiers of at most {MAX_VARIABLE_NAME} characters "
                f"not starting with '_', not {str(name)[:50]!r}"
            )
        variables[name] = _variable_item(value, name, 0, budget)
    return variables
