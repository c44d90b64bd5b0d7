"""Namespaces for jobs, and the checked libc calls the protections are built on.

The zygote creates one empty network namespace, one empty IPC namespace and one UTS
namespace with a neutral host name, and every child inherits them (see ``protections``
for why sharing them is safe); each child checks that it is in exactly those namespaces
and that they are still empty. Each child is also forked into a PID namespace of its
own, as its init process (pid 1): it sees no other process, no sibling's pid and none of
the host's, and the kernel ignores every signal it sends itself that it does not handle.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import socket
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
#: What ``uname -n`` says inside the sandbox, instead of the host's name.
JOB_HOSTNAME = "sandbox"
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
#: Top-level directories left as they are: /proc is replaced per child (see
#: ``protections``), and the symlinks (bin, lib, ...) lead into /usr, which is covered.
UNCOVERED = frozenset({"proc"})


class ProtectionError(Exception):
    """A protection could not be applied or did not take effect."""


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def check_result(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise ProtectionError(
            f"{what} failed: {errno.errorcode.get(err, err)} ({os.strerror(err)})"
        )
    return result


def ns_inode(kind: str) -> int:
    return os.stat(f"/proc/self/ns/{kind}").st_ino


def host_namespaces() -> dict[str, int]:
    """Return the inode numbers of this process's namespaces jobs must not share."""
    return {kind: ns_inode(kind) for kind in ("net", "ipc", "mnt", "pid", "uts")}


@dataclass(frozen=True)
class JobNamespaces:
    """The empty network, IPC and UTS namespaces the zygote created for all jobs."""

    netns: int = 0
    ipcns: int = 0
    utsns: int = 0
    #: Why they could not be created; empty when they were.
    problem: str = "not created"
    #: Why the host's files could not be covered (see ``cover_host_files``); empty if they were.
    view_problem: str = "not covered"


def enter_job_namespaces(host: dict[str, int]) -> JobNamespaces:
    """Move the calling (single-threaded zygote) process into new net, IPC and UTS namespaces.

    Its children inherit them, so no child needs namespaces of its own; each one
    still checks that it is in these namespaces and that they are empty.
    """
    try:
        check_result(
            libc().unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
            "unshare(CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS)",
        )
        netns, ipcns, utsns = ns_inode("net"), ns_inode("ipc"), ns_inode("uts")
        if netns == host["net"] or ipcns == host["ipc"] or utsns == host["uts"]:
            raise ProtectionError("still in a server namespace after unshare")
        name = JOB_HOSTNAME.encode()
        check_result(libc().sethostname(name, len(name)), "sethostname")
        check_result(libc().setdomainname(b"", 0), "setdomainname")
        check_netns_empty()
        check_ipcns_empty()
    except (ProtectionError, OSError) as exc:
        return JobNamespaces(problem=str(exc) or type(exc).__name__)
    return JobNamespaces(netns=netns, ipcns=ipcns, utsns=utsns, problem="")


def cover_host_files(keep: tuple[str, ...]) -> str:
    """Hide the host's files from jobs, but ``keep``; return a problem, or "" when done.

    Landlock decides what a job may open, but not what it may ``stat`` or ``readlink``:
    sizes, times and names of host files (the source tree, /etc/shadow, /tmp) would stay
    visible. So the zygote, in a private mount namespace of its own that every child
    copies, covers each top-level directory with an empty read-only tmpfs, and binds
    back only what jobs read (the interpreter's libraries, /dev/null, the scratch root),
    at the same paths. It does this once: a child pays nothing for it.
    """
    lib = libc()
    try:
        check_result(lib.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        flags = ctypes.c_ulong(MS_REC | MS_PRIVATE)
        check_result(lib.mount(b"none", b"/", None, flags, None), "mount(/, MS_PRIVATE)")
        for name in sorted(os.listdir("/")):
            top = os.path.join("/", name)
            if name in UNCOVERED or os.path.islink(top) or not os.path.isdir(top):
                continue
            _cover(lib, top, [path for path in keep if path == top or path.startswith(top + "/")])
        os.chdir("/")
    except (ProtectionError, OSError) as exc:
        return str(exc) or type(exc).__name__
    return ""


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    # Octal escapes of space, tab, newline and backslash.
    return [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), p) for p in points]


def _detach_beneath(lib: ctypes.CDLL, top: str, keep: list[str]) -> None:
    """Detach the mounts beneath ``top`` that hold nothing kept: hidden by the cover anyway,
    they would only be copied into, and torn down with, every child's mount namespace."""
    beneath = {point for point in _mount_points() if point.startswith(top + "/")}
    for point in sorted(beneath, key=len, reverse=True):
        if not any(path == point or path.startswith(point + "/") for path in keep):
            check_result(lib.umount2(point.encode(), MNT_DETACH), f"umount {point}")


def _cover(lib: ctypes.CDLL, top: str, keep: list[str]) -> None:
    _detach_beneath(lib, top, keep)
    # Descriptors of what to keep, opened before the tmpfs hides it.
    kept = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in keep}
    try:
        secure = MS_NOSUID | MS_NODEV | MS_NOEXEC
        check_result(
            lib.mount(
                b"tmpfs", top.encode(), b"tmpfs", ctypes.c_ulong(secure), b"size=1m,mode=0755"
            ),
            f"mount(tmpfs on {top})",
        )
        for path, fd in kept.items():
            if path != top:
                if os.path.isdir(f"/proc/self/fd/{fd}"):
                    os.makedirs(path, 0o755, exist_ok=True)
                else:
                    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            source = f"/proc/self/fd/{fd}".encode()
            flags = ctypes.c_ulong(MS_BIND | MS_REC)
            check_result(lib.mount(source, path.encode(), None, flags, None), f"bind {path}")
        flags = ctypes.c_ulong(MS_REMOUNT | MS_BIND | MS_RDONLY | secure)
        check_result(lib.mount(None, top.encode(), None, flags, None), f"remount {top} read-only")
    finally:
        for fd in kept.values():
            os.close(fd)


class PidNamespaceForker:
    """Fork each child as the init process of a PID namespace of its own.

    ``unshare(CLONE_NEWPID)`` only changes where the caller's *next* children go, and
    only once: a second call fails until the caller has gone back to its own namespace
    with ``setns``. So each fork is preceded by both (two cheap system calls).
    """

    def __init__(self) -> None:
        """Keep a descriptor of the zygote's own PID namespace to return to."""
        self._libc = libc()
        self._own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    def fork(self) -> int:
        """Fork like ``os.fork``; the child is pid 1 of a fresh PID namespace.

        If the namespace cannot be created the child is forked anyway: it checks that
        it is pid 1 and refuses to run code, naming the protection, when it is not.
        """
        try:
            check_result(self._libc.setns(self._own, CLONE_NEWPID), "setns(own pid namespace)")
            check_result(self._libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
        except ProtectionError:
            pass
        return os.fork()


def check_ipcns_empty() -> None:
    """Raise unless this IPC namespace holds no System V IPC object."""
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}", "rb") as table:
            if len(table.read().splitlines()) > 1:  # a header line, then one per object
                raise ProtectionError(f"the IPC namespace holds System V {kind} objects")


def check_netns_empty() -> None:
    """Raise unless this network namespace has no interface but a loopback that is down."""
    with open("/proc/self/net/dev", "rb") as dev:
        # Two header lines, then one line per interface: "  name: counters...".
        names = {line.split(b":", 1)[0].strip() for line in dev.read().splitlines()[2:]}
    if names - {b"lo"}:
        interfaces = ", ".join(sorted(name.decode(errors="replace") for name in names))
        raise ProtectionError(f"the network namespace has interfaces: {interfaces}")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("127.0.0.1", 9))
    except OSError as exc:
        if exc.errno != errno.ENETUNREACH:
            raise ProtectionError(f"unexpected error probing loopback: {exc}") from None
    else:
        raise ProtectionError("loopback is reachable inside the network namespace")
    finally:
        probe.close()
