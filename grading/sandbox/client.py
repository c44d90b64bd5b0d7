"""Client of the grading sandbox server (standard library only, Python 3.11+).

Exceptions separate infrastructure failures from job verdicts:

* :class:`SandboxUnavailable` - the server could not be reached, timed out,
  dropped the connection, is too busy to queue the job, or answered something
  that is not a valid response. Retrying later (e.g. a Celery retry) is the
  right reaction.
* :class:`SandboxRequestError` - the server understood the request and rejected
  it (bad limits, code too large, ...). Retrying the same request cannot help.

A job that fails, times out or tries something forbidden is *not* an exception:
:meth:`SandboxClient.run` returns its response with the corresponding
``verdict``. When the verdict was caused by the sandbox itself (a protection is
unavailable, so the server refuses to run code), ``response["sandbox_error"]``
says so and is ``None`` otherwise.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from typing import Any

from . import protocol

#: Seconds added to the job's wall-clock limit when waiting for its response.
RESPONSE_MARGIN_SECONDS = 10.0


class SandboxError(Exception):
    """Base class of the sandbox client's errors."""


class SandboxUnavailable(SandboxError):
    """The sandbox server cannot be used right now (connection, time-out or protocol failure)."""


class SandboxRequestError(SandboxError):
    """The sandbox server rejected the request itself."""


class SandboxClient:
    """Talk to a sandbox server over its unix socket; one connection per call, thread-safe."""

    def __init__(self, socket_path: str, timeout: float = 60.0) -> None:
        """Remember where the server listens and how long to wait for it at most."""
        self.socket_path = socket_path
        self.timeout = timeout

    def ping(self) -> dict[str, Any]:
        """Return the server's status: torch version, protections and readiness."""
        response = self._call({"op": "ping"}, self.timeout)
        try:
            return protocol.validate_ping_response(response)
        except protocol.ProtocolError as exc:
            raise SandboxUnavailable(str(exc)) from exc

    def run(
        self,
        code: str,
        *,
        job_id: str,
        capture: Iterable[str] = (),
        limits: Mapping[str, float | int] | None = None,
    ) -> dict[str, Any]:
        """Run ``code`` in the sandbox and return the validated response.

        ``limits`` may set ``wall_seconds``, ``cpu_seconds``, ``memory_mb`` and
        ``output_bytes``; the server fills defaults and clamps to its maxima.
        """
        request: dict[str, Any] = {
            "op": "run",
            "job_id": job_id,
            "code": code,
            "capture": list(capture),
        }
        if limits is not None:
            request["limits"] = dict(limits)
        wall = float((limits or {}).get("wall_seconds", protocol.DEFAULT_LIMITS.wall_seconds))
        timeout = max(self.timeout, wall + RESPONSE_MARGIN_SECONDS)
        response = self._call(request, timeout)
        try:
            return protocol.validate_run_response(response)
        except protocol.ProtocolError as exc:
            raise SandboxUnavailable(str(exc)) from exc

    def _call(self, request: dict[str, Any], timeout: float) -> Any:
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot create a socket: {exc}") from exc
        try:
            sock.settimeout(timeout)
            sock.connect(self.socket_path)
            protocol.send_frame(sock, request)
            response = protocol.recv_frame(sock, protocol.MAX_RESPONSE_BYTES)
        except TimeoutError as exc:
            raise SandboxUnavailable(f"no answer from the sandbox within {timeout:g} s") from exc
        except protocol.ProtocolError as exc:
            raise SandboxUnavailable(f"invalid data from the sandbox: {exc}") from exc
        except OSError as exc:
            raise SandboxUnavailable(
                f"cannot reach the sandbox at {self.socket_path}: {exc}"
            ) from exc
        finally:
            sock.close()
        if response is None:
            raise SandboxUnavailable("the sandbox closed the connection without answering")
        if isinstance(response, dict) and response.get("ok") is False:
            error = str(response.get("error", "request rejected"))
            if response.get("retry") is True:
                raise SandboxUnavailable(error)  # e.g. too many jobs queued
            raise SandboxRequestError(error)
        return response


def main(argv: list[str] | None = None) -> int:
    """``python -m grading.sandbox.client --socket PATH ping``: exit 0 when the server is ready."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m grading.sandbox.client")
    parser.add_argument("--socket", required=True)
    parser.add_argument("command", choices=["ping"])
    args = parser.parse_args(argv)
    try:
        status = SandboxClient(args.socket, timeout=10).ping()
    except SandboxError as exc:
        print(f"sandbox not ready: {exc}")
        return 1
    print(json.dumps(status, indent=2, sort_keys=True))
    return 0 if status.get("ready", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
