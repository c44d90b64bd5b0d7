"""What the server tracks per job: the child's pipes, its status report, and the verdict.

A child talks back on four pipes: stdout, stderr, a *status* pipe on which it
reports, and then closes, whether it is fully locked down (before any job code
runs, so a job cannot forge it), and a *result* pipe for the job's outcome,
which the job can tamper with and which is therefore validated strictly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import protocol
from .decoding import INLINE_RESULT_BYTES, Decoded, DecoderStopped, ResultDecoder
from .protections import SandboxConfig
from .results import (
    MAX_RESULT_BYTES,
    MAX_STATUS_BYTES,
    ChildResult,
    ChildStatus,
    Outcome,
    ResultError,
    decide,
    parse_child_result,
    parse_status,
)

log = logging.getLogger("grading.sandbox")

READ_CHUNK = 1 << 16


@dataclass(eq=False)
class Worker:
    """A pre-forked sandbox child, as the server sees it (server ends of its pipes)."""

    spawn_id: int
    #: The concurrency slot (uid and scratch mount point) the child locked itself down for.
    slot: int
    ctl_w: int
    out_r: int
    err_r: int
    res_r: int
    st_r: int
    pid: int = 0
    pidfd: int = -1
    job: Job | None = None

    def read_fds(self) -> tuple[int, int, int, int]:
        """Return the pipes the server reads from."""
        return self.out_r, self.err_r, self.res_r, self.st_r


@dataclass(eq=False)
class Job:
    """One run request, from its arrival until its child has been reaped."""

    request: protocol.RunRequest
    #: Called once with the response.
    on_done: Callable[[dict[str, Any]], None]
    slot: int = -1
    worker: Worker | None = None
    started: float = 0.0
    deadline: float = 0.0
    sched_base_ns: int = 0
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    result: bytearray = field(default_factory=bytearray)
    status_bytes: bytearray = field(default_factory=bytearray)
    status: ChildStatus | None = None
    output_total: int = 0
    open_pipes: set[int] = field(default_factory=set)
    control: memoryview | None = None
    kill_reason: str | None = None
    finished: bool = False
    #: A large result is being decoded off the loop (see :mod:`.decoding`).
    decoding: bool = False
    decoded: ChildResult | None = None
    decode_error: str | None = None
    #: The child's wait status and CPU time, once reaped while its result was decoded.
    exit_info: tuple[int, float] | None = None


class JobHandling:
    """Read a running job's pipes, enforce its limits and turn its end into a response."""

    selector: selectors.BaseSelector
    config: SandboxConfig
    torch_version: str
    running: set[Job]
    decoder: ResultDecoder

    def check_deadlines(self) -> None:
        """Kill jobs past their wall-clock limit (not while their finished result is decoded)."""
        now = time.monotonic()
        for job in list(self.running):
            expired = now >= job.deadline and job.kill_reason is None
            if expired and not job.finished and not job.decoding:
                self.kill(job, "wall")

    def next_deadline(self) -> float | None:
        """Return when the next running job reaches its wall-clock limit."""
        live = [
            job.deadline
            for job in self.running
            if job.kill_reason is None and not job.finished and not job.decoding
        ]
        return min(live) if live else None

    def watch_pipes(self, job: Job) -> None:
        """Start reading the pipes of a job's child."""
        assert job.worker is not None
        for fd in job.worker.read_fds():
            job.open_pipes.add(fd)
            self.selector.register(
                fd, selectors.EVENT_READ, lambda _mask, fd=fd: self.read_pipe(job, fd)
            )

    def read_pipe(self, job: Job, fd: int) -> bool:
        """Read one chunk from a child's pipe; return whether more may be available."""
        worker = job.worker
        if worker is None or fd not in job.open_pipes:
            return False
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return False
        if not chunk:
            self.stop_reading(job, fd)
            if fd == worker.st_r:
                self._on_status(job)
            if not job.open_pipes and not job.finished and job.kill_reason is None:
                self._complete_at_eof(job)
            return False
        if fd in (worker.res_r, worker.st_r):
            buffer = job.result if fd == worker.res_r else job.status_bytes
            buffer += chunk
            if len(buffer) > (MAX_RESULT_BYTES if fd == worker.res_r else MAX_STATUS_BYTES):
                self.kill(job, "result_size")
            return True
        job.output_total += len(chunk)
        room = job.request.limits.output_bytes - (len(job.stdout) + len(job.stderr))
        (job.stdout if fd == worker.out_r else job.stderr).extend(chunk[: max(0, room)])
        if job.output_total > job.request.limits.output_bytes:
            self.kill(job, "output")
        return True

    def drain(self, job: Job) -> None:
        """Read whatever a dead child left in its pipes."""
        for fd in list(job.open_pipes):
            while fd in job.open_pipes and job.kill_reason is None and self.read_pipe(job, fd):
                pass
        for fd in list(job.open_pipes):
            self.stop_reading(job, fd)

    def stop_reading(self, job: Job, fd: int) -> None:
        """Stop watching one of the job's pipes (the pool closes it when the child is gone)."""
        job.open_pipes.discard(fd)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(fd)

    def kill(self, job: Job, reason: str) -> None:
        """SIGKILL the job's child, remembering why, and stop reading from it."""
        if job.kill_reason is None and not job.finished:
            job.kill_reason = reason
        worker = job.worker
        if worker is not None and worker.pidfd >= 0:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(worker.pidfd, signal.SIGKILL)
        for fd in list(job.open_pipes):
            self.stop_reading(job, fd)

    def _on_status(self, job: Job) -> None:
        """The child closed its status pipe: it is locked down, or it refuses."""
        try:
            job.status = parse_status(bytes(job.status_bytes))
        except ResultError as exc:
            log.error("sandbox child sent an invalid status: %s", exc)
            return  # decided when the child exits
        if job.status.state == "refused" and not job.finished:
            # Trustworthy: written before (instead of) any job code.
            message = job.status.message
            self.finish(job, Outcome("error", message, sandbox_error=message), cpu_ms=0.0)
            self.kill(job, "refused")

    def needs_decoding(self, job: Job) -> bool:
        """Say whether a job's result is too large to parse inside the loop and not decoded yet."""
        return (
            job.kill_reason is None
            and job.status is not None
            and job.status.state == "hardened"
            and not job.decoding
            and job.decoded is None
            and job.decode_error is None
            and len(job.result) > INLINE_RESULT_BYTES
        )

    def start_decoding(self, job: Job) -> None:
        """Hand a large result to the decoder process; the job completes when it answers."""
        job.decoding = True
        self.decoder.decode(job.result, job.request.capture, lambda got: self._decoded(job, got))
        job.result = bytearray()  # the decoder has its copy

    def _decoded(self, job: Job, decoded: Decoded) -> None:
        job.decoding = False
        if job.finished:
            return
        if isinstance(decoded, DecoderStopped):
            text = str(decoded)
            self.finish(job, Outcome("interrupted", text, sandbox_error=text), cpu_ms=0.0)
            return
        if isinstance(decoded, ResultError):
            job.decode_error = str(decoded)
        else:
            job.decoded = decoded
        if job.exit_info is not None:
            status, cpu_ms = job.exit_info
            self.complete(job, exit_status=status, cpu_ms=cpu_ms, result=job.decoded)
        elif job.decoded is not None:
            self._complete_reported(job, job.decoded)
        # else: an invalid result; the child's exit decides, which the zygote reports soon

    def _complete_at_eof(self, job: Job) -> None:
        """All pipes closed: answer now if the result is valid, without waiting for the exit."""
        if job.status is None or job.status.state != "hardened":
            return  # the exit status decides; the zygote reports it shortly
        if self.needs_decoding(job):
            self.start_decoding(job)
            return
        if job.decoding:
            return
        try:
            result = parse_child_result(bytes(job.result), job.request.capture)
        except ResultError:
            return
        self._complete_reported(job, result)

    def _complete_reported(self, job: Job, result: ChildResult) -> None:
        """Answer with a valid result the child reported before it was reaped."""
        worker = job.worker
        assert worker is not None
        # The kernel's own account bounds what a lying child could claim.
        measured_ms = (sched_runtime_ns(worker.pid) - job.sched_base_ns) / 1e6
        self.complete(job, exit_status=None, cpu_ms=max(result.cpu_ms, measured_ms), result=result)
        # The child has nothing left to do (or is lying): make sure it is gone.
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(worker.pidfd, signal.SIGKILL)

    def complete(
        self, job: Job, *, exit_status: int | None, cpu_ms: float, result: ChildResult | None = None
    ) -> None:
        """Decide the verdict of a job whose child closed its pipes or exited."""
        if job.kill_reason not in (None, "wall", "output", "result_size"):
            outcome = Outcome("error", f"the job was abandoned ({job.kill_reason})")
        elif job.status is None and job.kill_reason is None:
            text = f"the sandbox child failed before running the job ({describe_exit(exit_status)})"
            # Killed before it even said it was locked down: the job's code never ran.
            signaled = exit_status is not None and os.WIFSIGNALED(exit_status)
            outcome = Outcome("interrupted" if signaled else "error", text, sandbox_error=text)
        else:
            result_error = job.decode_error
            if result is None and job.kill_reason is None and result_error is None:
                try:
                    result = parse_child_result(bytes(job.result), job.request.capture)
                except ResultError as exc:
                    result_error = str(exc)
            outcome = decide(
                kill_reason=job.kill_reason,
                result=result,
                result_error=result_error,
                exit_status=exit_status,
                limits=job.request.limits,
                cpu_ms=cpu_ms,
            )
        self.finish(job, outcome, cpu_ms)

    def finish(self, job: Job, outcome: Outcome, cpu_ms: float) -> None:
        """Send the job's response."""
        job.finished = True
        job.on_done(
            self.response(
                job.request,
                outcome,
                stdout=job.stdout,
                stderr=job.stderr,
                wall_ms=(time.monotonic() - job.started) * 1000.0,
                cpu_ms=cpu_ms,
            )
        )

    def response(
        self,
        request: protocol.RunRequest,
        outcome: Outcome,
        *,
        stdout: bytes,
        stderr: bytes,
        wall_ms: float,
        cpu_ms: float,
    ) -> dict[str, Any]:
        """Build the response to a run request."""
        return {
            "ok": True,
            "job_id": request.job_id,
            "verdict": outcome.verdict,
            "stdout": bytes(stdout).decode("utf-8", "replace"),
            "stderr": bytes(stderr).decode("utf-8", "replace"),
            "exception": outcome.exception,
            "values": outcome.values or {},
            "wall_ms": round(wall_ms, 3),
            "cpu_ms": round(cpu_ms, 3),
            "torch_version": self.torch_version,
            "message": outcome.message,
            "sandbox_error": outcome.sandbox_error,
            "limits": request.limits.to_json(),
            "insecure": self.config.insecure,
        }


def sched_runtime_ns(pid: int) -> int:
    """Return the CPU time the kernel has accounted to a process's main thread, in ns."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def describe_exit(status: int | None) -> str:
    """Describe a wait status for a message."""
    if status is None:
        return "still running"
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.WEXITSTATUS(status)}"
