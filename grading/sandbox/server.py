"""The grading sandbox server.

Run from the repository root::

    python -m grading.sandbox.server --socket PATH --scratch-root DIR \\
        [--uid-base N] [--prefork N] [--max-jobs N]

If the process started with any environment variable, it first re-executes itself with
an empty environment (see :func:`.startup.reexecute_without_environment`), so no job
can find its caller's variables anywhere in memory.

The server imports torch once, warms it up, forks a zygote (see
:mod:`.zygote`), runs a self-test job to check that every protection works on
this machine, and then serves requests on a unix socket with a single-threaded
``selectors`` loop (no threads: the process forks, and forking a threaded
process is hazardous). Each job runs in a fresh child forked from the zygote; a
pool of pre-forked children, each already fully locked down for its slot, waits
for work, so only the job's code arrives (see :mod:`.pool` and :mod:`.runner`).

If a protection is unavailable the server keeps running but refuses to run
code, saying which protection failed and why, unless the environment sets
``SANDBOX_INSECURE_DEVELOPMENT_ONLY=1``. ``SANDBOX_TEST_DISABLE=name[,name]``
makes the named protections fail, so tests can check that refusal; it can never
make a check pass.

This module and everything it imports use only the standard library plus torch
and numpy; it never imports Django or any application code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import selectors
import signal
import sys
import time
from typing import Any

from . import protocol
from .decoding import ResultDecoder
from .jobs import Job
from .pool import WorkerPool
from .protections import PROTECTIONS, SandboxConfig
from .results import Outcome
from .startup import (
    INSECURE_ENV,
    TEST_DISABLE_ENV,
    build_config,
    job_sys_path,
    parse_args,
    reexecute_without_environment,
    started_with_environment,
)
from .startup import warm_up as warm_up_torch
from .transport import Connection, Listener
from .values import Runtime

log = logging.getLogger("grading.sandbox")

SELF_TEST_CODE = (
    "import torch\n"
    "out = torch.nn.BatchNorm1d(3)(torch.tensor([[1., 2., 3.], [4., 5., 6.]])).detach()\n"
    "print(torch.tensor([1., 2.]))\n"
)


class SandboxServer:
    """Accept requests, run each job in a locked-down child, and answer with its verdict."""

    def __init__(
        self,
        args: argparse.Namespace,
        config: SandboxConfig,
        runtime: Runtime,
        problems: dict[str, str],
        decoder: ResultDecoder,
    ) -> None:
        """Set up state; only the decoder has been forked yet."""
        self.args = args
        self.config = config
        self.maxima = protocol.Limits(
            args.max_wall, args.max_cpu, args.max_memory_mb, args.max_output_bytes
        )
        self.selector = selectors.DefaultSelector()
        decoder.attach(self.selector)
        self.decoder = decoder
        self.pool = WorkerPool(self.selector, args, config, runtime, decoder)
        self.startup_problems = problems
        self.protections: dict[str, dict[str, Any]] = {}
        self.refusal: str | None = "the self-test has not run yet"
        self.stopping = False
        self.listener: Listener | None = None
        self.jobs_by_conn: dict[Connection, Job] = {}

    @property
    def torch_version(self) -> str:
        """Return the torch version jobs run with."""
        return self.pool.torch_version

    def self_test(self, timeout: float = 60.0) -> None:
        """Run one job through every protection and record which ones work."""
        done: list[dict[str, Any]] = []
        limits = protocol.Limits(10.0, 10.0, 512, 4096)
        job = Job(
            protocol.RunRequest("self-test", SELF_TEST_CODE, ("out",), limits),
            on_done=done.append,
        )
        self.pool.submit(job)
        give_up = time.monotonic() + timeout
        while not done and time.monotonic() < give_up:
            self._tick(max_wait=0.5)
        response = done[0] if done else {}
        if isinstance(response.get("values"), bytes):  # decoded off the loop: still JSON text
            response["values"] = json.loads(response["values"])
        if job.status is not None and job.status.protections:
            self.protections = dict(job.status.protections)
        else:
            reason = response.get("message") or "no answer within the time-out"
            self.protections = {
                name: {"ok": False, "detail": f"self-test failed: {reason}"} for name in PROTECTIONS
            }
        for name, reason in self.startup_problems.items():
            self.protections[name] = {"ok": False, "detail": reason}
        works = (
            response.get("verdict") == "ok"
            and response.get("stdout") == "tensor([1., 2.])\n"
            and (response.get("values") or {}).get("out", {}).get("shape") == [2, 3]
        )
        if works:
            detail = "BatchNorm1d forward and tensor print inside the sandbox"
        elif response.get("sandbox_error"):
            detail = "not run: the sandbox refused to run code"
        else:
            detail = (
                f"self-test job gave {response.get('verdict')!r}: "
                f"{response.get('message')!r}, exception {response.get('exception')!r}, "
                f"stderr {response.get('stderr', '')[-500:]!r}"
            )
        self.protections["self_test"] = {"ok": works, "detail": detail}
        for name, status in self.protections.items():
            level = logging.INFO if status["ok"] else logging.ERROR
            log.log(
                level,
                "protection %-20s %s  %s",
                name,
                "OK  " if status["ok"] else "FAIL",
                status["detail"],
            )
        failed = [
            f"{name}: {status['detail']}"
            for name, status in self.protections.items()
            if not status["ok"]
        ]
        self.refusal = "; ".join(failed) or None
        if self.refusal and self.config.insecure:
            log.warning(
                "!!! %s=1: RUNNING CODE WITHOUT THESE PROTECTIONS: %s", INSECURE_ENV, self.refusal
            )
            self.refusal = None
        elif self.refusal:
            log.error("REFUSING TO RUN CODE: protection unavailable: %s", self.refusal)

    def serve_forever(self) -> None:
        """Listen on the socket and serve until SIGTERM or SIGINT."""
        self.listener = Listener(
            self.selector, self.args.socket, self.args.socket_mode, self._on_request, self._on_close
        )
        log.info(
            "listening on %s (torch %s, prefork %d, max jobs %d)",
            self.args.socket,
            self.torch_version,
            self.args.prefork,
            self.args.max_jobs,
        )
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: None)  # the wakeup fd does the work
        self.selector.register(wake_r, selectors.EVENT_READ, lambda _mask: self._on_signal(wake_r))
        self.pool.schedule()
        while not self.stopping:
            self._tick()

    def _on_signal(self, fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(fd, 64)
        log.info("stopping on signal")
        self.stopping = True

    def shutdown(self) -> None:
        """Answer jobs in flight ``interrupted``, kill every child and remove the socket."""
        self.stopping = True
        self.pool.shutdown()
        self.decoder.stop()
        if self.listener is not None:
            self.listener.flush_all(timeout=2.0)
            self.listener.close()

    def _tick(self, max_wait: float | None = None) -> None:
        deadline = self.pool.next_deadline()
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if max_wait is not None:
            timeout = max_wait if timeout is None else min(timeout, max_wait)
        events = self.selector.select(timeout)
        registered = self.selector.get_map()
        for key, mask in events:
            # An earlier handler in this batch may have closed this fd (and a new
            # pipe may even have reused its number): skip events of stale keys.
            if registered.get(key.fd) is not key:
                continue
            try:
                key.data(mask)
            except Exception:  # keep serving everyone else
                log.exception("internal error while handling an event")
        self.pool.check_deadlines()
        self.pool.replenish()
        if self.pool.broken:
            # Nothing can run any more; exit non-zero so a supervisor restarts the server.
            self.refusal = self.pool.broken
            self.stopping = True

    def ping_response(self) -> dict[str, Any]:
        """Describe the server, its protections and whether it runs code."""
        return {
            "ok": True,
            "protocol": protocol.PROTOCOL_VERSION,
            "torch_version": self.torch_version,
            "protections": self.protections,
            "ready": self.refusal is None,
            "refusal": self.refusal,
            "insecure": self.config.insecure,
            "limits": {"default": protocol.DEFAULT_LIMITS.to_json(), "max": self.maxima.to_json()},
            "busy_slots": self.pool.busy_slots(),
            "idle_workers": len(self.pool.idle),
        }

    def _on_request(self, conn: Connection, message: dict[str, Any]) -> None:
        listener = self.listener
        assert listener is not None
        op = message.get("op")
        if op == "ping":
            listener.respond(conn, self.ping_response())
            return
        if self.stopping:
            # Pipelined behind a job answered at shutdown: the client should retry later.
            listener.respond(conn, {"ok": False, "error": "sandbox shutting down", "retry": True})
            return
        if op != "run":
            listener.respond(conn, {"ok": False, "error": f"unknown op {op!r}"})
            return
        try:
            request = protocol.validate_run_request(message, self.maxima)
        except protocol.ProtocolError as exc:
            job_id = message.get("job_id")
            listener.respond(
                conn,
                {
                    "ok": False,
                    "error": str(exc),
                    "job_id": job_id if isinstance(job_id, str) else None,
                },
            )
            return
        if self.refusal is not None:
            text = f"sandbox refused to run code: protection unavailable: {self.refusal}"
            outcome = Outcome("error", text, sandbox_error=text)
            listener.respond(
                conn,
                self.pool.response(
                    request, outcome, stdout=b"", stderr=b"", wall_ms=0.0, cpu_ms=0.0
                ),
            )
            return
        if len(self.pool.waiting) >= self.args.max_queue:
            # Not the request's fault: the client should retry later.
            busy = f"sandbox busy: {len(self.pool.waiting)} jobs are already waiting"
            listener.respond(conn, {"ok": False, "error": busy, "retry": True})
            return

        def answer(response: dict[str, Any]) -> None:
            self.jobs_by_conn.pop(conn, None)
            if not conn.closed:
                conn.busy = False
                listener.respond(conn, response)
                listener.next_request(conn)

        conn.busy = True
        job = Job(request, on_done=answer)
        self.jobs_by_conn[conn] = job
        self.pool.submit(job)

    def _on_close(self, conn: Connection) -> None:
        job = self.jobs_by_conn.pop(conn, None)
        if job is not None:
            self.pool.abandon(job)  # nobody waits for it any more


def main(argv: list[str] | None = None) -> int:
    """Start the server; return its exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if started_with_environment():
        reexecute_without_environment(argv)
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s sandbox[%(process)d] %(levelname)s %(message)s",
    )
    if os.geteuid() != 0:
        log.error("the sandbox server must run as root (it switches each job to its own uid)")
        return 2
    if args.test_disable:
        log.warning(
            "%s=%s: these protections will FAIL on purpose (testing only)",
            TEST_DISABLE_ENV,
            args.test_disable,
        )
    # Forked before torch is imported and before any request: small, and holding nothing.
    decoder = ResultDecoder()
    decoder.start()
    runtime = warm_up_torch()
    config, problems = build_config(args)
    runtime = Runtime(
        torch=runtime.torch, numpy=runtime.numpy, job_sys_path=job_sys_path(config.readonly_paths)
    )
    server = SandboxServer(args, config, runtime, problems, decoder)
    server.pool.start()
    try:
        server.self_test()
        server.serve_forever()
    except OSError as exc:
        log.error("cannot serve on %s: %s", args.socket, exc)
        return 1
    finally:
        server.shutdown()
    return 1 if server.pool.broken else 0


if __name__ == "__main__":
    sys.exit(main())
