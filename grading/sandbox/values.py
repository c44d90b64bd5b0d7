"""Turn what a job leaves behind into plain JSON data, inside the sandbox child.

Only plain data ever leaves the child: captured variables become numbers,
strings, lists and dicts (tensors and arrays become typed, shaped nested
lists), everything else a truncated ``repr``. Depth, item counts and total size
are capped, and a job's objects may raise from any method, so every conversion
falls back to something safe.
"""

from __future__ import annotations

import errno
import json
import math
import traceback
from dataclasses import dataclass
from typing import Any

CANDIDATE_FILENAME = "<candidate>"
#: Captured values are cut down to fit this many bytes of JSON in total.
MAX_VALUES_BYTES = 4 * 1024 * 1024
#: The most a child sends on its result channel: the values plus room for the capped
#: exception texts. The child refuses to send more (``output_limit``), and the server
#: kills a child that writes more anyway.
MAX_RESULT_BYTES = MAX_VALUES_BYTES + 256 * 1024
MAX_DEPTH = 16
MAX_ITEMS = 10_000
MAX_TENSOR_ELEMENTS = 100_000
MAX_STR_CHARS = 100_000
MAX_REPR_CHARS = 2_000
MAX_MESSAGE_CHARS = 8_000
MAX_TRACEBACK_CHARS = 32_000
#: Substrings of allocation failures torch reports as RuntimeError.
_ALLOCATION_FAILURES = ("can't allocate memory", "not enough memory", "DefaultCPUAllocator")


class ValuesTooLarge(Exception):
    """The captured values take more than ``MAX_VALUES_BYTES`` of JSON in total."""

    def __init__(self, size: int) -> None:
        """Remember how many bytes the values took, as far as they were converted."""
        super().__init__(size)
        self.size = size


@dataclass(frozen=True)
class Runtime:
    """The warm modules and paths a child uses, prepared once by the server."""

    torch: Any
    numpy: Any
    job_sys_path: tuple[str, ...]


def _plain_float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _clean_floats(data: Any) -> Any:
    """Replace non-finite floats in ``tolist()`` output by strings, in place where possible."""
    if type(data) is float:
        return _plain_float(data)
    if type(data) is list:
        for index, item in enumerate(data):
            if type(item) in (float, list):
                data[index] = _clean_floats(item)
    return data


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def _safe_repr(value: Any) -> dict[str, Any]:
    try:
        text = repr(value)
        if not isinstance(text, str):
            text = f"<repr returned {type(text).__name__}>"
    except Exception as exc:  # a job's object may raise anything from __repr__
        text = f"<repr failed: {type(exc).__name__}>"
    return {"type": "repr", "repr": _truncate(text, MAX_REPR_CHARS)}


class ValueConverter:
    """Convert job values to plain JSON data (depth, size and element count capped)."""

    def __init__(self, runtime: Runtime) -> None:
        """Use the runtime's torch and numpy to recognise tensors and arrays."""
        self.torch = runtime.torch
        self.numpy = runtime.numpy
        self.items = 0

    def convert(self, value: Any, depth: int = 0) -> Any:
        """Return ``value`` as JSON-compatible data."""
        self.items += 1
        kind = type(value)
        if value is None or kind is bool:
            return value
        if kind is int:
            return (
                value
                if -(2**63) <= value < 2**63
                else {
                    "type": "int",
                    "repr": _truncate(
                        str(value) if value.bit_length() < 10_000 else "<huge int>", MAX_REPR_CHARS
                    ),
                }
            )
        if kind is float:
            return _plain_float(value)
        if kind is str:
            return _truncate(value, MAX_STR_CHARS)
        if depth >= MAX_DEPTH or self.items > MAX_ITEMS:
            return {"type": "truncated", "reason": "nesting or size limit"}
        if kind in (list, tuple):
            items = [self.convert(item, depth + 1) for item in value[:MAX_ITEMS]]
            if len(value) > MAX_ITEMS:
                items.append(
                    {"type": "truncated", "reason": f"{len(value) - MAX_ITEMS} more items"}
                )
            return items
        if kind is dict:
            out: dict[str, Any] = {}
            for index, (key, item) in enumerate(value.items()):
                if index >= MAX_ITEMS:
                    break
                name = key if type(key) is str else _safe_repr(key)["repr"]
                out[name] = self.convert(item, depth + 1)
            return out
        if self.torch is not None and isinstance(value, self.torch.Tensor):
            return self._tensor(value)
        if self.numpy is not None and isinstance(value, self.numpy.ndarray):
            return self._ndarray(value)
        if self.numpy is not None and isinstance(value, self.numpy.generic):
            return self.convert(value.item(), depth + 1)
        return _safe_repr(value)

    def _tensor(self, value: Any) -> Any:
        torch = self.torch
        try:
            tensor = value.detach()
            if tensor.layout != torch.strided or tensor.is_quantized or tensor.device.type != "cpu":
                return _safe_repr(value)
            out: dict[str, Any] = {
                "type": "tensor",
                "dtype": str(tensor.dtype).removeprefix("torch."),
                "shape": list(tensor.shape),
            }
            if tensor.numel() > MAX_TENSOR_ELEMENTS:
                out.update(data=None, truncated=True)
                return out
            if tensor.is_complex():
                tensor = torch.view_as_real(tensor.resolve_conj())
                out["complex"] = True  # the innermost lists are [real, imaginary]
            elif tensor.is_floating_point() and tensor.dtype not in (torch.float32, torch.float64):
                tensor = tensor.float()
            out["data"] = _clean_floats(tensor.tolist())
            self.items += tensor.numel()
            return out
        except Exception:  # a tensor subclass may misbehave; fall back to its repr
            return _safe_repr(value)

    def _ndarray(self, value: Any) -> Any:
        try:
            out: dict[str, Any] = {
                "type": "ndarray",
                "dtype": str(value.dtype),
                "shape": list(value.shape),
            }
            if value.size > MAX_TENSOR_ELEMENTS or value.dtype.kind not in "biuf":
                out.update(data=None, truncated=True)
                return out
            out["data"] = _clean_floats(value.tolist())
            self.items += int(value.size)
            return out
        except Exception:
            return _safe_repr(value)


def capture_values(runtime: Runtime, namespace: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Convert the requested variables; a name the job never defined is left out.

    Raise :class:`ValuesTooLarge` when they take more than ``MAX_VALUES_BYTES`` in all:
    the job's verdict is then ``output_limit``, not a silently cut value.
    """
    converter = ValueConverter(runtime)
    values: dict[str, Any] = {}
    budget = MAX_VALUES_BYTES
    for name in names:
        if name not in namespace:
            continue
        try:
            plain = converter.convert(namespace[name])
            size = len(json.dumps(plain, allow_nan=False))
        except Exception as exc:
            plain, size = {"type": "error", "message": f"cannot convert: {type(exc).__name__}"}, 64
        if size > budget:
            raise ValuesTooLarge(MAX_VALUES_BYTES - budget + size)
        budget -= size
        values[name] = plain
    return values


# --------------------------------------------------------------------------- exceptions


def describe_exception(exc: BaseException) -> dict[str, str]:
    """Return type, message and a traceback trimmed to the job's own frames."""
    try:
        message = str(exc)
    except Exception:
        message = "<str() of the exception failed>"
    try:
        frames = [
            frame
            for frame in traceback.extract_tb(exc.__traceback__)
            if frame.filename == CANDIDATE_FILENAME
        ]
        lines = (
            ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
            if frames
            else []
        )
        lines += traceback.format_exception_only(type(exc), exc)
        text = "".join(lines)
    except Exception:
        text = f"{type(exc).__name__}: {message}\n"
    return {
        "type": type(exc).__name__,
        "message": _truncate(message, MAX_MESSAGE_CHARS),
        "traceback": _truncate(text, MAX_TRACEBACK_CHARS),
    }


def classify_exception(exc: BaseException) -> str | None:
    """Say whether an exception means the memory limit or a forbidden operation."""
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, RuntimeError):
        try:
            text = str(exc)
        except Exception:
            text = ""
        if any(marker in text for marker in _ALLOCATION_FAILURES):
            return "memory"
    # EROFS: a write below a directory covered to hide the host's files.
    if isinstance(exc, PermissionError) or (isinstance(exc, OSError) and exc.errno == errno.EROFS):
        return "forbidden"
    return None
