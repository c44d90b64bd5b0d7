"""The zygote: a warm, single-threaded process that forks sandbox children.

The server forks the zygote right after importing and warming up torch, before
it accepts any connection, so the zygote's memory never holds another job's
code or output. Every sandbox child is forked from the zygote and therefore
starts with the same clean, warm image. (A child forked from the server itself
could read the request and response buffers of concurrent jobs out of its own
copy of the server's heap.) Forking in a separate process also keeps the
server's event loop responsive while a fork copies page tables. The zygote
also enters the empty network and IPC namespaces and the UTS namespace that all its
children share (see :mod:`.protections`), so no child pays for creating and destroying
its own, and forks each child into a PID namespace of its own (see :mod:`.namespaces`).

Protocol on a SOCK_SEQPACKET socketpair, one JSON object per packet:

* server -> zygote: ``{"spawn": id, "slot": slot}`` with five fds attached
  (control read end, stdout, stderr, result and status write ends): fork a child
  that locks itself down for that concurrency slot and waits for its job;
* zygote -> server: ``{"spawned": id, "pid": pid}`` with the child's pidfd
  attached, and ``{"exited": pid, "status": wait_status, "cpu_ms": float}`` once
  the child has been reaped.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import json
import os
import selectors
import signal
import socket
import sys
from typing import NoReturn

from .namespaces import PidNamespaceForker, cover_host_files, enter_job_namespaces
from .protections import SandboxConfig
from .runner import worker_main
from .values import Runtime

MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25
HUGE_PAGE = 2 << 20


def collapse_heap_into_huge_pages() -> int:
    """Back the large anonymous regions with transparent huge pages; return MiB collapsed.

    fork() copies one page-table entry per 4 KiB page of private memory, and every
    child's exit tears them down again. With the ~150 MiB of private memory a warm
    torch process has, that is about 4 ms per fork plus 5 ms per exit; mapped as
    2 MiB pages it is a fraction of that. Best effort: older kernels lack
    MADV_COLLAPSE and THP may be disabled.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    collapsed = 0
    with open("/proc/self/maps") as maps:
        regions = maps.read().splitlines()
    for line in regions:
        fields = line.split()
        path = fields[5] if len(fields) > 5 else ""
        if not fields[1].startswith("rw") or path not in ("", "[heap]"):
            continue
        start, end = (int(value, 16) for value in fields[0].split("-"))
        start = (start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)
        end &= ~(HUGE_PAGE - 1)
        if end - start < HUGE_PAGE:
            continue
        libc.madvise(start, end - start, MADV_HUGEPAGE)
        # One huge page at a time: some failures make the kernel give up on the
        # rest of a range (measured: ~150 instead of ~190 MiB collapsed).
        for chunk in range(start, end, HUGE_PAGE):
            if libc.madvise(chunk, HUGE_PAGE, MADV_COLLAPSE) == 0:
                collapsed += HUGE_PAGE
    return collapsed >> 20


def zygote_main(sock: socket.socket, config: SandboxConfig, runtime: Runtime) -> NoReturn:
    """Serve spawn requests from the server until it closes the socket; never returns."""
    try:
        _zygote_loop(sock, config, runtime)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            print(f"sandbox zygote: fatal: {exc!r}", file=sys.stderr, flush=True)
        os._exit(70)
    os._exit(0)


def _zygote_loop(sock: socket.socket, config: SandboxConfig, runtime: Runtime) -> None:
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    # Keep only the server socket and stderr (for fatal messages).
    keep = sorted({0, 1, 2, sock.fileno()})
    for low, high in zip(keep, [*keep[1:], 2**31 - 1], strict=True):
        if high > low + 1:
            os.closerange(low + 1, high)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(
        ctypes.c_int(1),
        ctypes.c_ulong(signal.SIGKILL),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )  # PR_SET_PDEATHSIG
    if os.getppid() != config.server_pid:
        os._exit(0)
    # Empty network and IPC namespaces for all children (see .protections); a
    # failure here makes every child's namespace checks fail.
    job_namespaces = enter_job_namespaces(config.host_namespaces)
    view_problem = cover_host_files(
        (*config.readonly_paths, *config.readwrite_files, config.scratch_root)
    )
    job_namespaces = dataclasses.replace(job_namespaces, view_problem=view_problem)
    forker = PidNamespaceForker()
    # A child is pid 1 of its own PID namespace and cannot see its parent's pid there;
    # it watches this descriptor to know whether the zygote is still alive.
    own_pidfd = os.pidfd_open(os.getpid())
    with contextlib.suppress(OSError):
        collapse_heap_into_huge_pages()
    # Forking and pre-forked children's set-up are background work: at a lower
    # priority they never slow down a running job (which resets its priority).
    os.setpriority(os.PRIO_PROCESS, 0, 10)
    gc.collect()
    gc.freeze()  # children then never touch these objects for garbage collection
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    children: dict[int, int] = {}  # pidfd -> pid
    while True:
        for key, _mask in selector.select():
            if key.fileobj is sock:
                message, fds, _flags, _addr = socket.recv_fds(sock, 4096, 8)
                if not message:
                    return  # the server is gone
                request = json.loads(message)
                if (
                    len(fds) != 5
                    or not isinstance(request.get("spawn"), int)
                    or not isinstance(request.get("slot"), int)
                ):
                    for fd in fds:
                        os.close(fd)
                    continue
                ctl_r, out_w, err_w, res_w, st_w = fds
                try:
                    pid = forker.fork()
                except OSError as exc:
                    for fd in fds:
                        os.close(fd)
                    sock.send(json.dumps({"spawned": request["spawn"], "error": str(exc)}).encode())
                    continue
                if pid == 0:
                    worker_main(
                        config,
                        runtime,
                        {1: out_w, 2: err_w, 3: res_w, 4: ctl_r, 5: st_w, 6: own_pidfd},
                        job_namespaces,
                        request["slot"],
                    )
                for fd in fds:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                reply = json.dumps({"spawned": request["spawn"], "pid": pid}).encode()
                socket.send_fds(sock, [reply], [pidfd])
                children[pidfd] = pid
                selector.register(pidfd, selectors.EVENT_READ)
            else:
                pidfd = key.fd
                pid = children.pop(pidfd)
                selector.unregister(pidfd)
                os.close(pidfd)
                _pid, status, usage = os.wait4(pid, 0)
                cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000.0
                sock.send(json.dumps({"exited": pid, "status": status, "cpu_ms": cpu_ms}).encode())
