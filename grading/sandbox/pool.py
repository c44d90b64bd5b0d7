"""The pool of pre-forked sandbox children and the scheduling of jobs onto them.

Children are forked by the zygote (see :mod:`.zygote`), which reports each new
child's pid with a pidfd, and each child's exit with its wait status. Each child
is forked for a free concurrency slot (its own uid and scratch mount point),
which it holds until it has exited and been reaped, and locks itself down for it
while it waits: a job only needs an idle child.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import logging
import os
import selectors
import signal
import socket
import time

from . import protocol
from .decoding import ResultDecoder
from .jobs import Job, JobHandling, Worker, sched_runtime_ns
from .protections import SandboxConfig
from .results import Outcome
from .values import Runtime
from .zygote import zygote_main

log = logging.getLogger("grading.sandbox")


class WorkerPool(JobHandling):
    """Fork children through the zygote, hand them jobs, and reap them."""

    def __init__(
        self,
        selector: selectors.BaseSelector,
        args: argparse.Namespace,
        config: SandboxConfig,
        runtime: Runtime,
        decoder: ResultDecoder,
    ) -> None:
        """Set up an empty pool; :meth:`start` forks the zygote."""
        self.selector = selector
        self.decoder = decoder
        self.args = args
        self.config = config
        self.runtime = runtime
        self.torch_version = str(runtime.torch.__version__)
        self.idle: collections.deque[Worker] = collections.deque()
        self.pending: dict[int, Worker] = {}
        self.by_pid: dict[int, Worker] = {}
        self.waiting: collections.deque[Job] = collections.deque()
        self.running: set[Job] = set()
        self.free_slots = collections.deque(range(args.max_jobs))
        self.next_spawn_id = 0
        self.idle_deaths = 0
        self.broken: str | None = None
        self.zygote_sock: socket.socket | None = None
        self.zygote_pid = 0

    def start(self) -> None:
        """Fork the zygote; call before any request data exists in this process."""
        server_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            server_end.close()
            zygote_main(zygote_end, self.config, self.runtime)
        zygote_end.close()
        self.zygote_pid = pid
        self.zygote_sock = server_end
        self.selector.register(server_end, selectors.EVENT_READ, self._on_zygote)

    def submit(self, job: Job) -> None:
        """Queue a job; it starts as soon as a slot and a child are free."""
        self.waiting.append(job)
        self.schedule()

    def abandon(self, job: Job) -> None:
        """Drop a job nobody waits for any more."""
        if job in self.waiting:
            self.waiting.remove(job)
        elif not job.finished:
            self.kill(job, "disconnect")

    def busy_slots(self) -> int:
        """Return how many slots are taken by running (or not yet reaped) jobs."""
        return len(self.running)

    def shutdown(self) -> None:
        """Answer unfinished jobs ``interrupted``, kill every child and stop the zygote."""
        outcome = Outcome("interrupted", "the sandbox server is shutting down; run the job again")
        for job in [*self.waiting, *self.running]:
            if not job.finished:
                job.kill_reason = job.kill_reason or "shutdown"
                self.finish(job, outcome, cpu_ms=0.0)
        self.waiting.clear()
        for worker in [*self.by_pid.values()]:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(worker.pidfd, signal.SIGKILL)
        if self.zygote_sock is not None:
            self.zygote_sock.close()  # the zygote exits; its children die with it
            self.zygote_sock = None
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.zygote_pid, 0)

    # ------------------------------------------------------------------ children

    def _spawn_worker(self) -> None:
        assert self.zygote_sock is not None
        slot = self.free_slots.popleft()
        pipes = [os.pipe2(os.O_CLOEXEC) for _ in range(5)]
        (ctl_r, ctl_w), (out_r, out_w), (err_r, err_w), (res_r, res_w), (st_r, st_w) = pipes
        spawn_id = self.next_spawn_id
        self.next_spawn_id += 1
        message = protocol.encode_frame({"spawn": spawn_id, "slot": slot})[protocol.HEADER.size :]
        try:
            socket.send_fds(self.zygote_sock, [message], [ctl_r, out_w, err_w, res_w, st_w])
        except OSError:
            self.free_slots.append(slot)
            for fd in (ctl_w, out_r, err_r, res_r, st_r):
                os.close(fd)
            raise
        finally:
            for fd in (ctl_r, out_w, err_w, res_w, st_w):
                os.close(fd)
        for fd in (ctl_w, out_r, err_r, res_r, st_r):
            os.set_blocking(fd, False)
        self.pending[spawn_id] = Worker(spawn_id, slot, ctl_w, out_r, err_r, res_r, st_r)

    def replenish(self) -> None:
        """Keep ``--prefork`` idle children, forking only when it does not slow a running job.

        A fork, the new child's set-up and an old child's exit all need CPU; done
        while a job runs they compete with it. So the pool is topped up when no
        job is running, unless jobs are waiting for a child right now. Every child
        holds a slot, so there are never more children than free slots allow.
        """
        if self.broken or self.zygote_sock is None:
            return
        starved = len(self.waiting)
        busy = any(not job.finished for job in self.running)
        wanted = starved if busy else self.args.prefork + starved
        while len(self.idle) + len(self.pending) < wanted and self.free_slots:
            self._spawn_worker()

    def _on_zygote(self, _mask: int) -> None:
        assert self.zygote_sock is not None
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.zygote_sock, 4096, 1)
        except BlockingIOError:
            return
        if not data:
            self.broken = "the sandbox zygote process died"
            log.critical("%s; no more jobs can run", self.broken)
            return
        message = protocol.decode_payload(data)
        if "spawned" in message:
            worker = self.pending.pop(message["spawned"])
            if "error" in message or len(fds) != 1:
                log.error("fork of a sandbox child failed: %s", message.get("error"))
                self._close_worker_fds(worker)
                self.free_slots.append(worker.slot)
                for fd in fds:
                    os.close(fd)
                return
            worker.pid, worker.pidfd = message["pid"], fds[0]
            self.by_pid[worker.pid] = worker
            self.idle.append(worker)
            self.schedule()
        elif "exited" in message:
            worker = self.by_pid.pop(message["exited"])
            self._on_worker_exit(worker, message["status"], float(message["cpu_ms"]))

    def _on_worker_exit(self, worker: Worker, status: int, cpu_ms: float) -> None:
        job = worker.job
        if job is None:
            # An idle child should only exit when the server closes its control pipe.
            with contextlib.suppress(ValueError):
                self.idle.remove(worker)
            self.idle_deaths += 1
            log.warning("an idle sandbox child exited with status %#x", status)
            if self.idle_deaths >= 10:
                self.broken = "sandbox children keep dying before receiving a job"
                log.error("%s; not forking more", self.broken)
        else:
            self.idle_deaths = 0
            if not job.finished:
                self.drain(job)
            job_cpu_ms = max(0.0, cpu_ms - job.sched_base_ns / 1e6)
            if not job.finished and self.needs_decoding(job):
                self.start_decoding(job)
            if job.decoding:
                job.exit_info = (status, job_cpu_ms)  # the decoder's answer completes it
            elif not job.finished:
                self.complete(job, exit_status=status, cpu_ms=job_cpu_ms, result=job.decoded)
            for fd in list(job.open_pipes):
                self.stop_reading(job, fd)
            self.running.discard(job)
        # Only now is the slot's uid free of processes and reusable.
        self.free_slots.append(worker.slot)
        self._close_worker_fds(worker)
        with contextlib.suppress(OSError):
            os.close(worker.pidfd)
        self.schedule()

    def _close_worker_fds(self, worker: Worker) -> None:
        for fd in (worker.ctl_w, *worker.read_fds()):
            if fd < 0:
                continue
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fd)
            with contextlib.suppress(OSError):
                os.close(fd)
        worker.ctl_w = worker.out_r = worker.err_r = worker.res_r = worker.st_r = -1

    # ------------------------------------------------------------------ jobs

    def schedule(self) -> None:
        """Start waiting jobs on idle children, then top up the pool."""
        while self.waiting and self.idle:
            job = self.waiting.popleft()
            self._dispatch(job, self.idle.popleft())
        self.replenish()

    def _dispatch(self, job: Job, worker: Worker) -> None:
        request = job.request
        job.slot, job.worker, worker.job = worker.slot, worker, job
        message = {
            "job_id": request.job_id,
            "code": request.code,
            "capture": list(request.capture),
            "limits": request.limits.to_json(),
        }
        job.control = memoryview(protocol.encode_frame(message)[protocol.HEADER.size :])
        job.sched_base_ns = sched_runtime_ns(worker.pid)
        job.started = time.monotonic()
        job.deadline = job.started + request.limits.wall_seconds
        self.running.add(job)
        self.watch_pipes(job)
        self._write_control(job)

    def _write_control(self, job: Job) -> None:
        worker = job.worker
        assert worker is not None and job.control is not None
        try:
            while job.control:
                job.control = job.control[os.write(worker.ctl_w, job.control) :]
        except BlockingIOError:
            with contextlib.suppress(KeyError):
                self.selector.register(
                    worker.ctl_w, selectors.EVENT_WRITE, lambda _mask: self._write_control(job)
                )
            return
        except BrokenPipeError:
            pass  # the child died; its exit report follows
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(worker.ctl_w)
        os.close(worker.ctl_w)  # EOF tells the child the whole job has arrived
        worker.ctl_w = -1
        job.control = None
