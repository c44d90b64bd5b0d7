"""Wire protocol shared by the grading sandbox server and its clients.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON.
A connection carries one request at a time: the client sends a frame, the server
answers with one frame, and the client may then send the next request on the
same connection or close it.

This module imports only the standard library: the client side runs in the
Django application's interpreter (Python 3.12, no torch) and the server side in
the sandbox interpreter (Python 3.11 with torch). Keep it 3.11-compatible.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from dataclasses import asdict, dataclass
from typing import Any

PROTOCOL_VERSION = 1

HEADER = struct.Struct(">I")
#: Largest request frame the server accepts (the code is further capped below).
MAX_REQUEST_BYTES = 4 * 1024 * 1024
#: Largest response frame a client accepts: output (<= 1 MiB by default maxima,
#: escaped as JSON) plus captured values (<= 4 MiB) with generous headroom.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Largest job source accepted, in characters.
MAX_CODE_CHARS = 1024 * 1024
MAX_JOB_ID_CHARS = 200
MAX_CAPTURE_NAMES = 64

#: ``interrupted``: the job's process died of a signal the job cannot cause itself (the
#: out-of-memory killer, an operator's kill, a server shutdown); not the candidate's doing,
#: so the caller retries the job instead of charging it.
VERDICTS = frozenset(
    {"ok", "error", "time_limit", "memory_limit", "output_limit", "forbidden", "interrupted"}
)


class ProtocolError(ValueError):
    """A frame or message does not follow the sandbox protocol."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job."""

    wall_seconds: float
    cpu_seconds: float
    memory_mb: int
    output_bytes: int

    def to_json(self) -> dict[str, float | int]:
        """Return the limits as a JSON-ready dict."""
        return asdict(self)


#: Limits used for a field the request leaves out.
DEFAULT_LIMITS = Limits(wall_seconds=5.0, cpu_seconds=5.0, memory_mb=1024, output_bytes=64 * 1024)
#: Default global maxima; the server's command line may change them.
DEFAULT_MAXIMA = Limits(wall_seconds=30.0, cpu_seconds=20.0, memory_mb=2048, output_bytes=1 << 20)
#: Smallest values accepted, so that a job can at least start.
MINIMA = Limits(wall_seconds=0.01, cpu_seconds=0.01, memory_mb=16, output_bytes=0)


# --------------------------------------------------------------------------- framing


class RawJSON(bytes):
    """JSON text the server encoded itself (off its loop) from data it had validated.

    ``encode_frame`` puts it in place as a message's ``values`` without parsing or
    encoding it again; it must therefore only ever hold the output of ``json.dumps``
    with the same options (ASCII only, no NaN), never bytes a job wrote.
    """


def encode_frame(message: Any) -> bytes:
    """Serialise a message as one length-prefixed frame of strict JSON."""
    values = message.get("values") if isinstance(message, dict) else None
    if isinstance(values, RawJSON):
        rest = {key: value for key, value in message.items() if key != "values"}
        head = json.dumps(rest, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
        # ``head`` is an object ("{...}"): reopen it and append the values as its last member.
        separator = b"," if rest else b""
        data = b"".join((head[:-1].encode(), separator, b'"values":', values, b"}"))
        return HEADER.pack(len(data)) + data
    payload = json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    data = payload.encode("utf-8")
    return HEADER.pack(len(data)) + data


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"non-standard JSON constant {name!r}")


def decode_payload(data: bytes) -> Any:
    """Parse a frame payload as strict JSON (no NaN/Infinity), raising ProtocolError."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except ProtocolError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"invalid JSON payload: {exc}") from None


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    """Read exactly ``size`` bytes; return None on EOF before the first byte."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            if not chunks:
                return None
            raise ProtocolError("connection closed in the middle of a frame")
        chunks += chunk
    return bytes(chunks)


def recv_frame(sock: socket.socket, max_bytes: int) -> Any | None:
    """Receive one frame from a blocking socket; return None on a clean EOF."""
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > max_bytes:
        raise ProtocolError(f"frame of {length} bytes exceeds the {max_bytes}-byte limit")
    payload = _recv_exact(sock, length) if length else b""
    if payload is None:
        raise ProtocolError("connection closed before the frame payload")
    return decode_payload(payload)


def send_frame(sock: socket.socket, message: Any) -> None:
    """Send one frame on a blocking socket."""
    sock.sendall(encode_frame(message))


# --------------------------------------------------------------------------- requests


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def parse_limits(raw: Any, maxima: Limits) -> Limits:
    """Validate requested limits, fill defaults, and clamp them to ``maxima``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ProtocolError("'limits' must be an object")
    unknown = set(raw) - {"wall_seconds", "cpu_seconds", "memory_mb", "output_bytes"}
    if unknown:
        raise ProtocolError(f"unknown limit(s): {', '.join(sorted(unknown))}")
    values: dict[str, float | int] = {}
    for name in ("wall_seconds", "cpu_seconds", "memory_mb", "output_bytes"):
        default = getattr(DEFAULT_LIMITS, name)
        value = raw.get(name, default)
        integral = isinstance(default, int)
        if integral and type(value) is not int:
            raise ProtocolError(f"limit {name!r} must be an integer")
        if not integral and not _is_number(value):
            raise ProtocolError(f"limit {name!r} must be a finite number")
        if value < getattr(MINIMA, name):
            raise ProtocolError(f"limit {name!r} must be at least {getattr(MINIMA, name)}")
        value = min(value, getattr(maxima, name))
        values[name] = int(value) if integral else float(value)
    return Limits(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunRequest:
    """A validated ``run`` request."""

    job_id: str
    code: str
    capture: tuple[str, ...]
    limits: Limits


def validate_run_request(message: dict[str, Any], maxima: Limits) -> RunRequest:
    """Check a ``run`` request's fields and return it with clamped limits."""
    unknown = set(message) - {"op", "job_id", "code", "capture", "limits"}
    if unknown:
        raise ProtocolError(f"unknown field(s): {', '.join(sorted(unknown))}")
    job_id = message.get("job_id")
    if not isinstance(job_id, str) or not 0 < len(job_id) <= MAX_JOB_ID_CHARS:
        raise ProtocolError(f"'job_id' must be a string of 1 to {MAX_JOB_ID_CHARS} characters")
    code = message.get("code")
    if not isinstance(code, str):
        raise ProtocolError("'code' must be a string")
    if len(code) > MAX_CODE_CHARS:
        raise ProtocolError(f"'code' exceeds {MAX_CODE_CHARS} characters")
    capture = message.get("capture", [])
    if not isinstance(capture, list) or len(capture) > MAX_CAPTURE_NAMES:
        raise ProtocolError(f"'capture' must be a list of at most {MAX_CAPTURE_NAMES} names")
    for name in capture:
        if not isinstance(name, str) or not name.isidentifier():
            raise ProtocolError(f"capture name {name!r} is not a Python identifier")
    if len(set(capture)) != len(capture):
        raise ProtocolError("capture names must be unique")
    limits = parse_limits(message.get("limits"), maxima)
    return RunRequest(job_id=job_id, code=code, capture=tuple(capture), limits=limits)


# --------------------------------------------------------------------------- responses


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ProtocolError(f"malformed response: {what}")


def validate_run_response(message: Any) -> dict[str, Any]:
    """Check the shape of a ``run`` response and return it unchanged."""
    _require(isinstance(message, dict), "not an object")
    if message.get("ok") is False:
        return message
    _require(isinstance(message.get("job_id"), str), "'job_id' is not a string")
    _require(message.get("verdict") in VERDICTS, f"unknown verdict {message.get('verdict')!r}")
    for field in ("stdout", "stderr"):
        _require(isinstance(message.get(field), str), f"{field!r} is not a string")
    exception = message.get("exception")
    if exception is not None:
        _require(isinstance(exception, dict), "'exception' is neither null nor an object")
        for field in ("type", "message", "traceback"):
            _require(isinstance(exception.get(field), str), f"exception {field!r} is not a string")
    _require(isinstance(message.get("values"), dict), "'values' is not an object")
    for field in ("wall_ms", "cpu_ms"):
        _require(_is_number(message.get(field)), f"{field!r} is not a number")
    _require(isinstance(message.get("torch_version"), str), "'torch_version' is not a string")
    for field in ("message", "sandbox_error"):
        value = message.get(field)
        _require(value is None or isinstance(value, str), f"{field!r} is not a string or null")
    return message


def validate_ping_response(message: Any) -> dict[str, Any]:
    """Check the shape of a ``ping`` response and return it unchanged."""
    _require(isinstance(message, dict), "not an object")
    if message.get("ok") is False:
        return message
    _require(message.get("ok") is True, "'ok' is not true")
    _require(isinstance(message.get("torch_version"), str), "'torch_version' is not a string")
    protections = message.get("protections")
    _require(isinstance(protections, dict), "'protections' is not an object")
    for name, status in protections.items():
        _require(
            isinstance(status, dict)
            and isinstance(status.get("ok"), bool)
            and isinstance(status.get("detail"), str),
            f"protection {name!r} has no ok/detail",
        )
    _require(isinstance(message.get("ready"), bool), "'ready' is not a boolean")
    return message
