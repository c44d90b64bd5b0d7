"""Namespaces for jobs, and the checked libc calls the protections are built on.

The zygote creates one empty network namespace and one empty IPC namespace and every
child inherits them (see ``protections`` for why sharing them is safe); each child checks
that it is in exactly those namespaces and that they are still empty.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
from dataclasses import dataclass

CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000


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


def host_namespaces() -> tuple[int, int, int]:
    """Return the inode numbers of this process's net, ipc and mnt namespaces."""
    return ns_inode("net"), ns_inode("ipc"), ns_inode("mnt")


@dataclass(frozen=True)
class JobNamespaces:
    """The empty network and IPC namespaces the zygote created for all jobs."""

    netns: int = 0
    ipcns: int = 0
    #: Why they could not be created; empty when they were.
    problem: str = "not created"


def enter_job_namespaces(host_netns: int, host_ipcns: int) -> JobNamespaces:
    """Move the calling (single-threaded zygote) process into new network and IPC namespaces.

    Its children inherit them, so no child needs namespaces of its own; each one
    still checks that it is in these namespaces and that they are empty.
    """
    try:
        check_result(
            libc().unshare(CLONE_NEWNET | CLONE_NEWIPC), "unshare(CLONE_NEWNET|CLONE_NEWIPC)"
        )
        netns, ipcns = ns_inode("net"), ns_inode("ipc")
        if netns == host_netns or ipcns == host_ipcns:
            raise ProtectionError("still in the server's network or IPC namespace after unshare")
        check_netns_empty()
        check_ipcns_empty()
    except (ProtectionError, OSError) as exc:
        return JobNamespaces(problem=str(exc) or type(exc).__name__)
    return JobNamespaces(netns=netns, ipcns=ipcns, problem="")


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
