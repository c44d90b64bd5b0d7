"""Resource limits of a sandbox child: the server's maxima while it waits, its job's own after.

A waiting child is limited to the most any job may get; when its job arrives the limits
are lowered to the job's, hard limits included. An unprivileged process may always lower
its limits and never raise them, so job code cannot undo either. Every limit is read back
after it is set.
"""

from __future__ import annotations

import math
import resource

from .namespaces import ProtectionError

#: Threads (and processes) one job's uid may have: torch runs single-threaded
#: here, but job code may start a few threads of its own.
NPROC_LIMIT = 32
NOFILE_LIMIT = 64


def vm_size() -> int:
    """Return the bytes the calling process maps now (its address space)."""
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def set_waiting_limits(*, cpu_seconds: float, memory_mb: int, vm_base: int, scratch_mb: int) -> str:
    """Set a waiting child's limits (the server's maxima); return what was set."""
    cpu = max(1, math.ceil(cpu_seconds))
    # Address space: what the warm interpreter already maps (inherited from the
    # fork) plus the job's allowance.
    address_space = vm_base + memory_mb * 1024 * 1024
    file_size = scratch_mb * 1024 * 1024
    apply_rlimits(
        {
            resource.RLIMIT_CORE: (0, 0),
            # SIGXCPU at the soft limit; SIGKILL one second later if it is caught.
            resource.RLIMIT_CPU: (cpu, cpu + 1),
            resource.RLIMIT_AS: (address_space, address_space),
            resource.RLIMIT_NPROC: (NPROC_LIMIT, NPROC_LIMIT),
            resource.RLIMIT_FSIZE: (file_size, file_size),
            resource.RLIMIT_NOFILE: (NOFILE_LIMIT, NOFILE_LIMIT),
            resource.RLIMIT_MEMLOCK: (0, 0),
            resource.RLIMIT_MSGQUEUE: (0, 0),
        }
    )
    return (
        f"cpu {cpu}s, address space {address_space >> 20} MiB "
        f"({memory_mb} MiB over the warm interpreter) while waiting, each lowered"
        f" to the job's own limits when it arrives; nproc {NPROC_LIMIT}, "
        f"fsize {scratch_mb} MiB, nofile {NOFILE_LIMIT}, core 0"
    )


def set_job_limits(*, cpu_seconds: float, memory_mb: int, vm_base: int) -> None:
    """Lower the CPU-time and address-space limits (soft and hard) to a job's own."""
    cpu = max(1, math.ceil(cpu_seconds))
    address_space = vm_base + memory_mb * 1024 * 1024
    apply_rlimits(
        {
            resource.RLIMIT_CPU: (cpu, cpu + 1),
            resource.RLIMIT_AS: (address_space, address_space),
        }
    )


def apply_rlimits(wanted: dict[int, tuple[int, int]]) -> None:
    """Set resource limits, then check that each one is exactly what was asked for."""
    for which, limits in wanted.items():
        resource.setrlimit(which, limits)
    for which, limits in wanted.items():
        if resource.getrlimit(which) != limits:
            raise ProtectionError(f"rlimit {which} is {resource.getrlimit(which)}, not {limits}")
