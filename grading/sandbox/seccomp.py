"""A hand-built seccomp-BPF filter for sandboxed jobs.

The filter is a deny list: PyTorch and CPython need a broad and changing set of
syscalls (mmap, futex, clone for threads, getrandom, ...), while what a job must
never do is a short, stable list: create sockets, use System V IPC or POSIX
message queues (the jobs share one IPC namespace), execute programs, create
processes or namespaces, inspect or signal other processes, mount, load kernel
code, reach kernel interfaces with a history of exploits (bpf, io_uring,
userfaultfd, perf_event_open, keyctl), or observe the host and concurrent jobs
(inotify, fanotify, file locks and leases, sync, sysinfo, page-cache probes).

Denied calls fail with EPERM, so the job sees an ordinary PermissionError, except
``clone3`` which fails with ENOSYS: glibc then falls back to ``clone``, whose
flags a classic BPF filter can inspect (clone3 passes them in memory). A syscall
from a foreign architecture (int 0x80, x32) kills the process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
from dataclasses import dataclass

from .denylist import DENIED, FCNTL_DENIED, SELF_SIGNAL, SIGKILL, SIGSTOP
from .syscalls import AARCH64, X86_64, Arch

PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

# Classic BPF opcodes (linux/filter.h).
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

# struct seccomp_data offsets; both supported architectures are little-endian,
# so the low 32 bits of argument i are at 16 + 8 * i.
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LO = 16

CLONE_THREAD = 0x00010000
#: Namespace flags: never allowed, even together with CLONE_THREAD.
CLONE_NAMESPACE_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)

_OFF_ARG1_LO = _OFF_ARG0_LO + 8


ARCHES = {arch.name: arch for arch in (X86_64, AARCH64)}


class SeccompError(OSError):
    """The filter cannot be built or installed here."""


def current_arch() -> Arch:
    """Return the syscall table of this process, refusing unsupported architectures."""
    machine = os.uname().machine
    arch = ARCHES.get(machine)
    if arch is None or sys.maxsize < 2**63 - 1:
        raise SeccompError(errno.ENOTSUP, f"no seccomp syscall table for {machine!r}")
    return arch


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


#: Stands for the job's pid in a filter template; larger than any possible pid.
PID_PLACEHOLDER = 0x7FFFFFF0


@dataclass(frozen=True)
class FilterTemplate:
    """A filter built once, with the positions of the job's pid still to fill in."""

    arch: Arch
    program: bytes
    pid_offsets: tuple[int, ...]

    def for_pid(self, pid: int) -> bytes:
        """Return the program with every pid comparison set to ``pid``."""
        program = bytearray(self.program)
        for offset in self.pid_offsets:
            struct.pack_into("=I", program, offset, pid)
        return bytes(program)


def build_template(arch: Arch) -> FilterTemplate:
    """Build the BPF program (packed ``struct sock_filter`` array) for jobs."""
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    prog = [
        _insn(_LD_W_ABS, _OFF_ARCH),
        _insn(_JEQ_K, arch.audit_arch, jt=1),
        _insn(_RET_K, SECCOMP_RET_KILL_PROCESS),
        _insn(_LD_W_ABS, _OFF_NR),
    ]
    if arch.x32_bit:
        prog += [_insn(_JGE_K, arch.x32_bit, jf=1), _insn(_RET_K, SECCOMP_RET_KILL_PROCESS)]

    def on_syscall(name: str, block: list[bytes]) -> None:
        # "if nr == name: run block (which always returns), else skip it"; the
        # accumulator still holds nr when the block is skipped.
        number = arch.numbers.get(name)
        if number is not None:
            prog.append(_insn(_JEQ_K, number, jf=len(block)))
            prog.extend(block)

    for name in DENIED:
        on_syscall(name, [_insn(_RET_K, eperm)])
    on_syscall("clone3", [_insn(_RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS)])
    on_syscall(
        "clone",
        [
            _insn(_LD_W_ABS, _OFF_ARG0_LO),
            _insn(_JSET_K, CLONE_THREAD, jt=1),  # a new process, not a thread
            _insn(_RET_K, eperm),
            _insn(_JSET_K, CLONE_NAMESPACE_FLAGS, jf=1),
            _insn(_RET_K, eperm),
            _insn(_RET_K, SECCOMP_RET_ALLOW),
        ],
    )
    pid_offsets: list[int] = []
    for name, signal_arg in SELF_SIGNAL.items():
        zero_ok = name == "kill"
        block = [
            _insn(_LD_W_ABS, _OFF_ARG0_LO),
            _insn(_JEQ_K, PID_PLACEHOLDER, jt=2 if zero_ok else 1),
            *([_insn(_JEQ_K, 0, jt=1)] if zero_ok else []),
            _insn(_RET_K, eperm),
            _insn(_LD_W_ABS, _OFF_ARG0_LO + 8 * signal_arg),
            _insn(_JEQ_K, SIGKILL, jt=1),
            _insn(_JEQ_K, SIGSTOP, jf=1),
            _insn(_RET_K, eperm),
            _insn(_RET_K, SECCOMP_RET_ALLOW),
        ]
        if arch.numbers.get(name) is not None:
            # The placeholder comparison is the second instruction of the block, which
            # starts after the syscall-number test on_syscall adds.
            pid_offsets.append((len(prog) + 2) * 8 + 4)
        on_syscall(name, block)
    fcntl_block = [_insn(_LD_W_ABS, _OFF_ARG1_LO)]
    for index, command in enumerate(FCNTL_DENIED):
        remaining = len(FCNTL_DENIED) - index - 1
        fcntl_block.append(_insn(_JEQ_K, command, jt=remaining + 1))
    fcntl_block += [_insn(_RET_K, SECCOMP_RET_ALLOW), _insn(_RET_K, eperm)]
    on_syscall("fcntl", fcntl_block)
    prog.append(_insn(_RET_K, SECCOMP_RET_ALLOW))
    if len(prog) > 4096:
        raise SeccompError(errno.E2BIG, "seccomp program too long")
    offsets = tuple(pid_offsets)
    return FilterTemplate(arch, b"".join(prog), offsets)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def _prctl(libc: ctypes.CDLL, option: int, arg2: int = 0, arg3: int = 0) -> int:
    result = libc.prctl(
        ctypes.c_int(option),
        ctypes.c_ulong(arg2),
        ctypes.c_ulong(arg3),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    if result < 0:
        err = ctypes.get_errno()
        raise SeccompError(err, f"prctl({option}) failed: {os.strerror(err)}")
    return int(result)


def set_no_new_privs(libc: ctypes.CDLL) -> None:
    """Set and verify PR_SET_NO_NEW_PRIVS."""
    _prctl(libc, PR_SET_NO_NEW_PRIVS, 1)
    if _prctl(libc, PR_GET_NO_NEW_PRIVS) != 1:
        raise SeccompError(errno.EPERM, "no_new_privs did not take effect")


def install(libc: ctypes.CDLL, arch: Arch, program: bytes) -> None:
    """Install the filter on the calling thread and verify that it is enforced."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    _prctl(libc, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
    if _prctl(libc, PR_GET_SECCOMP) != SECCOMP_MODE_FILTER:
        raise SeccompError(errno.EPERM, "seccomp mode is not 'filter' after installing")
    # A socket() call must now fail with EPERM.
    result = libc.syscall(
        ctypes.c_long(arch.numbers["socket"]), ctypes.c_long(2), ctypes.c_long(2), ctypes.c_long(0)
    )
    if result >= 0:
        os.close(result)
        raise SeccompError(errno.EPERM, "socket() still works after installing the filter")
    if ctypes.get_errno() != errno.EPERM:
        raise SeccompError(ctypes.get_errno(), "socket() failed, but not with EPERM")


def check_denials(libc: ctypes.CDLL, arch: Arch, job_pid: int) -> str:
    """Check, once the filter is installed, that each host-observation call fails with EPERM.

    Each probe fails with another error (or succeeds) when the filter does not catch it,
    so EPERM proves the filter did: fd 0 is /dev/null, and a null pointer where the
    kernel expects a lock description would be EFAULT.
    """
    probes = {
        "inotify_init1": (0,),
        "inotify_add_watch": (-1, None, 0),
        "fanotify_mark": (-1, 0, 0, -1, None),
        "flock": (0, 1 | 4),  # LOCK_SH | LOCK_NB on /dev/null
        "sync": (),
        "syncfs": (0,),
        "sysinfo": (None,),
        "preadv2": (-1, None, 0, 0, 0, 0),
        "cachestat": (-1, None, None, 0),
        **{f"fcntl {command}": (0, command, None) for command in FCNTL_DENIED},
        "kill SIGKILL": (job_pid, SIGKILL),
    }
    for label, args in probes.items():
        name = label.split()[0]
        number = arch.numbers.get(name)
        if number is None:
            continue  # not on this architecture (aarch64 has no inotify_init)
        result = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a or 0) for a in args))
        if result >= 0 or ctypes.get_errno() != errno.EPERM:
            if result >= 0 and name.startswith(("inotify", "fanotify")):
                os.close(result)
            raise SeccompError(errno.EPERM, f"{label} is not denied by the filter")
    if libc.syscall(ctypes.c_long(arch.numbers["fcntl"]), ctypes.c_long(0), ctypes.c_long(1)) < 0:
        raise SeccompError(ctypes.get_errno(), "fcntl(F_GETFD) is denied; it must not be")
    return (
        "inotify, fanotify, flock, fcntl record locks/leases/F_NOTIFY, sync, syncfs,"
        " sysinfo, preadv2/pwritev2 and cachestat"
        " -> EPERM (each probed); a job may not send itself SIGKILL or SIGSTOP"
    )


RLIMIT_CPU = 0


def build_cpu_limit_lock(arch: Arch) -> bytes:
    """Build a second filter, installed once a job's limits are set: no new CPU-time limit.

    A job that lowered its own CPU-time limit would be killed by the kernel's SIGKILL
    before its CPU time reached its budget, which looks like a kill from outside
    (``interrupted``, retried for free). Reading the limit stays allowed.
    """
    eperm, allow = SECCOMP_RET_ERRNO | errno.EPERM, SECCOMP_RET_ALLOW
    new_limit_lo, new_limit_hi = _OFF_ARG0_LO + 16, _OFF_ARG0_LO + 20
    program = [
        _insn(_LD_W_ABS, _OFF_ARCH),  # 0
        _insn(_JEQ_K, arch.audit_arch, jt=1),  # 1
        _insn(_RET_K, SECCOMP_RET_KILL_PROCESS),  # 2
        _insn(_LD_W_ABS, _OFF_NR),  # 3
        _insn(_JEQ_K, arch.numbers["setrlimit"], jf=2),  # 4: else 7
        _insn(_LD_W_ABS, _OFF_ARG0_LO),  # 5: resource
        _insn(_JEQ_K, RLIMIT_CPU, jt=5, jf=9),  # 6: 12 (deny) or 16 (allow)
        _insn(_JEQ_K, arch.numbers["prlimit64"], jf=8),  # 7: else 16
        _insn(_LD_W_ABS, _OFF_ARG1_LO),  # 8: resource
        _insn(_JEQ_K, RLIMIT_CPU, jf=6),  # 9: else 16
        _insn(_LD_W_ABS, new_limit_lo),  # 10: a new limit (a pointer) or NULL
        _insn(_JEQ_K, 0, jt=1),  # 11: low word 0: check the high word at 13
        _insn(_RET_K, eperm),  # 12
        _insn(_LD_W_ABS, new_limit_hi),  # 13
        _insn(_JEQ_K, 0, jt=1),  # 14: NULL: only reading, 16
        _insn(_RET_K, eperm),  # 15
        _insn(_RET_K, allow),  # 16
    ]
    return b"".join(program)


class CpuLimitLock:
    """:func:`build_cpu_limit_lock`, prepared while the child waits and installed on arrival.

    Everything but the ``prctl`` and its check is done beforehand: built on the job's
    critical path, the first installation took about 0.4 ms, the ``prctl`` alone 25 us.
    """

    def __init__(self, libc: ctypes.CDLL, arch: Arch) -> None:
        """Build the program and the arguments of every call :meth:`install` makes."""
        self._libc = libc
        program = build_cpu_limit_lock(arch)
        self._buffer = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.addressof(self._buffer))
        self._limit = (ctypes.c_ulong * 2)()
        self._prlimit = ctypes.c_long(arch.numbers["prlimit64"])
        self._pid, self._cpu = ctypes.c_long(0), ctypes.c_long(RLIMIT_CPU)
        self._read_limit()  # resolves the libc symbols now, not on the job's time

    def _read_limit(self) -> int:
        args = (self._pid, self._cpu, None, ctypes.byref(self._limit))
        return int(self._libc.syscall(self._prlimit, *args))

    def install(self) -> None:
        """Install the filter, then check that the limit reads but no longer changes."""
        _prctl(self._libc, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(self._fprog))
        if self._read_limit() != 0:
            raise SeccompError(ctypes.get_errno(), "reading the CPU-time limit fails")
        args = (self._pid, self._cpu, ctypes.byref(self._limit), None)
        if self._libc.syscall(self._prlimit, *args) == 0:
            raise SeccompError(errno.EPERM, "the CPU-time limit can still be changed")
