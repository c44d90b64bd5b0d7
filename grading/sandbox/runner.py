"""The code that runs inside a sandbox child.

A child is forked from the warm zygote for one concurrency slot, warms the
memory pages a typical job touches, locks itself down completely for that slot
(see :mod:`.protections`), reports on its status pipe whether it did, and blocks
on its control pipe. When the job arrives it lowers its CPU and memory limits to
the job's, runs the code as ``__main__``, converts the captured variables to
plain JSON data, writes one JSON object to its result pipe and exits. Nothing
here may return into the server's code: every path ends in ``os._exit``.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import io
import json
import linecache
import os
import resource
import signal
import sys
import tempfile
import types
from typing import Any, NoReturn

from .namespaces import JobNamespaces
from .protections import (
    FD_CONTROL,
    FD_RESULT,
    FD_STATUS,
    FD_STDERR,
    FD_STDOUT,
    Hardening,
    JobSpec,
    SandboxConfig,
)
from .values import (
    CANDIDATE_FILENAME,
    MAX_RESULT_BYTES,
    Runtime,
    ValuesTooLarge,
    capture_values,
    classify_exception,
    describe_exception,
)

M_ARENA_MAX = -8


# --------------------------------------------------------------------------- child main


def _reset_signals() -> None:
    # The zygote/server may have a wakeup fd and handlers; none of that applies here.
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # A file past RLIMIT_FSIZE then fails with EFBIG instead of killing the job.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _prewarm(runtime: Runtime) -> None:
    """Touch (copy-on-write) pages that nearly every job touches, before the job is timed."""
    torch = runtime.torch
    print(torch.tensor([1.0, 2.0]) * 2, file=io.StringIO())
    json.dumps({"values": capture_values(runtime, {"t": torch.zeros(2)}, ["t"])})


def _read_control() -> dict[str, Any] | None:
    chunks = []
    while True:
        chunk = os.read(FD_CONTROL, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(FD_CONTROL)
    if not chunks:
        return None
    job = json.loads(b"".join(chunks))
    return job if isinstance(job, dict) else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _encode_result(result: dict[str, Any]) -> bytes:
    """Encode the result, or a refusal to send it when it is over the server's cap."""
    if isinstance(result["values"], ValuesTooLarge):
        size = result["values"].size
    else:
        data = json.dumps(result, allow_nan=False).encode()
        if len(data) <= MAX_RESULT_BYTES:
            return data
        size = len(data)
    too_large = {"status": "too_large", "exception": None, "kind": None, "values": {}}
    return json.dumps({**too_large, "cpu_ms": result["cpu_ms"], "result_bytes": size}).encode()


def _finish(result: dict[str, Any]) -> NoReturn:
    try:
        _write_all(FD_RESULT, _encode_result(result))
    finally:
        # Closing every pipe tells the server the job is complete, before the
        # (slow) tear-down of this process's large address space, which then
        # runs at the lowest priority so it does not slow down the next job.
        for fd in (FD_STDOUT, FD_STDERR, FD_RESULT):
            with contextlib.suppress(OSError):
                os.close(fd)
        try:
            os.setpriority(os.PRIO_PROCESS, 0, 19)
        finally:
            os._exit(0)


def _make_streams() -> tuple[io.TextIOWrapper, io.TextIOWrapper, io.TextIOWrapper]:
    streams = []
    for fd in (FD_STDOUT, FD_STDERR):
        raw = io.FileIO(fd, "w", closefd=False)
        streams.append(
            io.TextIOWrapper(
                io.BufferedWriter(raw, 1 << 16), encoding="utf-8", errors="backslashreplace"
            )
        )
    stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    return streams[0], streams[1], stdin


def _prepare_interpreter(
    runtime: Runtime,
    scratch: str,
    libc: ctypes.CDLL,
    streams: tuple[io.TextIOWrapper, io.TextIOWrapper, io.TextIOWrapper],
) -> None:
    # The job's whole environment: nothing of the server's leaks.
    os.environ.clear()
    os.environ.update(
        {
            "PATH": "/usr/bin:/bin",
            "HOME": scratch,
            "TMPDIR": scratch,
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )
    sys.path[:] = list(runtime.job_sys_path)
    sys.argv[:] = [CANDIDATE_FILENAME]
    sys.dont_write_bytecode = True  # site-packages is read-only for the job
    # The server's warm-up already cached tempfile's directory (/tmp).
    tempfile.tempdir = scratch
    sys.stdout = sys.__stdout__ = streams[0]
    sys.stderr = sys.__stderr__ = streams[1]
    sys.stdin = sys.__stdin__ = streams[2]
    # A single malloc arena keeps address-space use (RLIMIT_AS) predictable.
    libc.mallopt(M_ARENA_MAX, 1)


def _execute(code: str) -> tuple[types.ModuleType, BaseException | None]:
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    linecache.cache[CANDIDATE_FILENAME] = (
        len(code),
        None,
        code.splitlines(True),
        CANDIDATE_FILENAME,
    )
    try:
        # Running untrusted code is the point; everything around it is locked down.
        exec(compile(code, CANDIDATE_FILENAME, "exec", dont_inherit=True), module.__dict__)  # noqa: S102
    except SystemExit as exc:
        if exc.code not in (None, 0):
            return module, exc
    except BaseException as exc:  # the job's failure is the result, whatever it is
        return module, exc
    return module, None


def run_job(
    hardening: Hardening,
    runtime: Runtime,
    spec: JobSpec,
    streams: tuple[io.TextIOWrapper, io.TextIOWrapper, io.TextIOWrapper],
) -> NoReturn:
    """Wait (locked down) for a job, then run its code and report the result."""
    refusal = hardening.refusal()
    status: dict[str, Any] = {"state": "hardened", "protections": hardening.report()}
    if refusal and not hardening.config.insecure:
        status = {"state": "refused", "reason": refusal, "protections": hardening.report()}
    # The status pipe is closed before any job code runs (before the job has even
    # arrived), so the job cannot forge a refusal (or a successful lock-down) on it.
    try:
        _write_all(FD_STATUS, json.dumps(status).encode())
    finally:
        os.close(FD_STATUS)
    job = _read_control()
    if job is None or status["state"] == "refused":
        os._exit(0)  # the server closed the pool (shutdown), or this child must not run code
    limits = job["limits"]
    hardening.narrow_limits(limits["cpu_seconds"], limits["memory_mb"])
    stdout, stderr = streams[0], streams[1]
    _prepare_interpreter(runtime, hardening.config.slot_dir(spec.slot), hardening.libc, streams)
    before = resource.getrusage(resource.RUSAGE_SELF)
    module, exc = _execute(job["code"])
    after = resource.getrusage(resource.RUSAGE_SELF)
    values: dict[str, Any] | ValuesTooLarge
    try:
        values = capture_values(runtime, module.__dict__, job.get("capture", []))
    except ValuesTooLarge as too_large:
        values = too_large  # _encode_result reports it
    for stream in (stdout, stderr):
        with contextlib.suppress(Exception):  # the server may have closed the pipe
            stream.flush()
    result: dict[str, Any] = {
        "status": "ok" if exc is None else "exception",
        "exception": None if exc is None else describe_exception(exc),
        "kind": None if exc is None else classify_exception(exc),
        "values": values,
        "cpu_ms": max(
            0.0, (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000.0
        ),
    }
    _finish(result)


def worker_main(
    config: SandboxConfig,
    runtime: Runtime,
    fds: dict[int, int],
    job_namespaces: JobNamespaces,
    slot: int,
) -> NoReturn:
    """Entry point of a freshly forked sandbox child for ``slot``; never returns."""
    try:
        _reset_signals()
        hardening = Hardening(config, job_namespaces)
        hardening.prefork(fds)
        streams = _make_streams()
        with contextlib.suppress(Exception):  # only an optimisation
            _prewarm(runtime)
        spec = JobSpec(
            slot=slot,
            uid=config.uid_base + slot,
            cpu_seconds=config.max_cpu_seconds,
            memory_mb=config.max_memory_mb,
        )
        hardening.lock_down(spec)
        run_job(hardening, runtime, spec, streams)
    except BaseException:
        os._exit(70)
