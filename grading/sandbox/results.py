"""Validate what a sandbox child reports and decide the job's verdict.

The child is hostile: by the time it writes its result, job code has run in it
and may have replaced any of its functions or written to the result pipe
itself. So the result is parsed as strict JSON only (never unpickled or
evaluated), its shape is checked field by field, and every string is capped.
Limits the server observes itself (wall clock, output size, the exit signal)
always take precedence over anything the child claims.
"""

from __future__ import annotations

import math
import os
import signal
from dataclasses import dataclass
from typing import Any

from .protocol import Limits, ProtocolError, RawJSON, decode_payload
from .values import MAX_RESULT_BYTES, MAX_VALUES_BYTES

#: The most a child may write to its status pipe (a protection report).
MAX_STATUS_BYTES = 64 * 1024
MAX_VALUE_DEPTH = 40
_RESULT_KEYS = frozenset({"status", "exception", "kind", "values", "cpu_ms", "result_bytes"})
_STRING_CAPS = {"type": 200, "message": 16_000, "traceback": 64_000}


class ResultError(ValueError):
    """The child's result is missing or malformed."""


@dataclass(frozen=True)
class ChildStatus:
    """What a child reported on its status pipe before running any job code."""

    state: str  # "hardened" or "refused"
    message: str | None
    protections: dict[str, dict[str, Any]] | None


@dataclass(frozen=True)
class ChildResult:
    """A child's validated report of the job's outcome."""

    status: str  # "ok", "exception" or "too_large"
    exception: dict[str, str] | None
    kind: str | None
    #: The captured values, or (decoded off the server's loop) their JSON text.
    values: dict[str, Any] | RawJSON
    cpu_ms: float
    #: How large the child found its result when it refused to send it ("too_large").
    result_bytes: int = 0


@dataclass(frozen=True)
class Outcome:
    """The verdict and what to tell the caller about it."""

    verdict: str
    message: str | None = None
    exception: dict[str, str] | None = None
    values: dict[str, Any] | None = None
    sandbox_error: str | None = None


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "... [truncated]"


def _check_depth(value: Any) -> None:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_VALUE_DEPTH:
            raise ResultError(f"captured value nested deeper than {MAX_VALUE_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def _protections(raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ResultError("'protections' is not an object")
    out = {}
    for name, status in raw.items():
        if not (
            isinstance(status, dict)
            and isinstance(status.get("ok"), bool)
            and isinstance(status.get("detail"), str)
        ):
            raise ResultError(f"protection {name!r} has no ok/detail")
        out[_cap(name, 100)] = {"ok": status["ok"], "detail": _cap(status["detail"], 2000)}
    return out


def parse_child_result(data: bytes, capture: tuple[str, ...]) -> ChildResult:
    """Parse and validate the bytes a child wrote to its result pipe."""
    if not data:
        raise ResultError("no result was reported")
    try:
        raw = decode_payload(data)
    except ProtocolError as exc:
        raise ResultError(str(exc)) from None
    if not isinstance(raw, dict):
        raise ResultError("the result is not a JSON object")
    unknown = set(raw) - _RESULT_KEYS
    if unknown:
        raise ResultError(f"unexpected field(s) {sorted(unknown)[:5]}")
    status = raw.get("status")
    if status not in ("ok", "exception", "too_large"):
        raise ResultError(f"unknown status {status!r}")
    result_bytes = raw.get("result_bytes", 0)
    if type(result_bytes) is not int or result_bytes < 0:
        raise ResultError("'result_bytes' is not a non-negative integer")
    exception = raw.get("exception")
    if status != "exception" and exception is not None:
        raise ResultError(f"status {status!r} with an exception")
    if status == "exception":
        if (
            not isinstance(exception, dict)
            or set(exception) != set(_STRING_CAPS)
            or not all(isinstance(exception[key], str) for key in _STRING_CAPS)
        ):
            raise ResultError("'exception' must have string fields type, message and traceback")
        exception = {key: _cap(exception[key], cap) for key, cap in _STRING_CAPS.items()}
    kind = raw.get("kind")
    if kind not in (None, "memory", "forbidden"):
        raise ResultError(f"unknown kind {kind!r}")
    values = raw.get("values")
    if not isinstance(values, dict):
        raise ResultError("'values' is not an object")
    extra = set(values) - set(capture)
    if extra:
        raise ResultError(f"values for names that were not requested: {sorted(extra)[:5]}")
    _check_depth(values)
    cpu_ms = raw.get("cpu_ms")
    if type(cpu_ms) not in (int, float) or not math.isfinite(cpu_ms) or cpu_ms < 0:
        raise ResultError("'cpu_ms' is not a non-negative number")
    return ChildResult(status, exception, kind, values, float(cpu_ms), result_bytes)


def parse_status(data: bytes) -> ChildStatus:
    """Parse what a child wrote to its status pipe (before any job code ran)."""
    try:
        raw = decode_payload(data)
    except ProtocolError as exc:
        raise ResultError(f"status: {exc}") from None
    if not isinstance(raw, dict) or raw.get("state") not in ("hardened", "refused"):
        raise ResultError("status: not a hardened/refused report")
    protections = raw.get("protections")
    protections = None if protections is None else _protections(protections)
    if raw["state"] == "hardened":
        return ChildStatus("hardened", None, protections)
    reason = raw.get("reason")
    if not isinstance(reason, str):
        raise ResultError("status: a refusal without a reason")
    message = f"sandbox refused to run code: protection unavailable: {_cap(reason, 4000)}"
    return ChildStatus("refused", message, protections)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def decide(
    *,
    kill_reason: str | None,
    result: ChildResult | None,
    result_error: str | None,
    exit_status: int | None,
    limits: Limits,
    cpu_ms: float,
) -> Outcome:
    """Combine what the server observed with what the job reported into a verdict.

    Only for a child that reported itself locked down; refusals and children
    that died before that are decided by the server itself.
    """
    if kill_reason == "wall":
        return Outcome("time_limit", f"wall-clock limit of {limits.wall_seconds:g} s exceeded")
    if kill_reason == "output":
        return Outcome("output_limit", f"output exceeded the limit of {limits.output_bytes} bytes")
    if kill_reason == "result_size":
        return Outcome(
            "output_limit",
            f"the job wrote more than {MAX_RESULT_BYTES} bytes to its result channel",
        )
    if result is not None:
        if result.status == "too_large":
            return Outcome(
                "output_limit",
                f"the captured values take {result.result_bytes} bytes as JSON, over the"
                f" limit of {MAX_VALUES_BYTES} bytes",
            )
        if result.status == "ok":
            return Outcome("ok", values=result.values)
        if result.kind == "memory":
            return Outcome(
                "memory_limit",
                f"memory limit of {limits.memory_mb} MB exceeded",
                result.exception,
                result.values,
            )
        if result.kind == "forbidden":
            return Outcome(
                "forbidden",
                "the job attempted an operation the sandbox forbids",
                result.exception,
                result.values,
            )
        return Outcome(
            "error",
            result.exception["type"] if result.exception else None,
            result.exception,
            result.values,
        )
    if exit_status is not None and os.WIFSIGNALED(exit_status):
        return _decide_signal(os.WTERMSIG(exit_status), limits, cpu_ms)
    code = os.WEXITSTATUS(exit_status) if exit_status is not None else None
    if result_error and result_error != "no result was reported":
        return Outcome("error", f"the job's result channel held invalid data: {result_error}")
    return Outcome("error", f"the job ended (exit status {code}) without reporting a result")


#: Signals a job can bring on itself: the kernel delivers them for what the job's own
#: code did (a bad pointer, an illegal instruction, abort()), whatever the job's PID
#: namespace. Any other signal it cannot send itself: it is the init process of its own
#: PID namespace, which ignores the signals it sends itself unless it handles them, and
#: seccomp denies it SIGKILL and SIGSTOP even then.
SELF_INFLICTED = frozenset(
    {
        signal.SIGSEGV,
        signal.SIGBUS,
        signal.SIGILL,
        signal.SIGFPE,
        signal.SIGTRAP,
        signal.SIGABRT,
        signal.SIGSYS,
        signal.SIGXCPU,
        signal.SIGXFSZ,
    }
)


def _decide_signal(signum: int, limits: Limits, cpu_ms: float) -> Outcome:
    """Decide the verdict of a child killed by a signal the server did not send."""
    cpu_budget_ms = max(1, math.ceil(limits.cpu_seconds)) * 1000.0
    if signum == signal.SIGXCPU or (signum == signal.SIGKILL and cpu_ms >= cpu_budget_ms - 50):
        # The kernel's SIGKILL at the hard CPU limit (SIGXCPU at the soft one is ignored
        # by an init process that does not handle it).
        return Outcome("time_limit", f"CPU-time limit of {limits.cpu_seconds:g} s exceeded")
    if signum == signal.SIGSYS:
        return Outcome("forbidden", "the job made a system call the sandbox forbids")
    if signum == signal.SIGXFSZ:
        return Outcome("error", "the job exceeded the scratch file-size limit")
    if signum in SELF_INFLICTED:
        return Outcome("error", f"the job was killed by {_signal_name(signum)}")
    # Not the job's doing: the out-of-memory killer, an operator, the machine shutting down.
    return Outcome(
        "interrupted",
        f"the job's process was killed from outside by {_signal_name(signum)} (not the"
        " job's doing, for example the out-of-memory killer); run it again",
    )
