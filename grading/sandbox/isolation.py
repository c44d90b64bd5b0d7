"""The isolation steps of a sandbox child's lock-down: namespaces, environment, file view.

A mixin of :class:`.protections.Hardening`, which calls each method as one step of its
report and applies them in the order its docstring describes.

The network and IPC namespaces are created once, by the zygote (see
:func:`.namespaces.enter_job_namespaces`), and inherited by every child: creating and
destroying them per job costs more than a millisecond of CPU plus deferred
kernel clean-up work. Sharing them is safe because they are empty and a job can
neither change nor use them: it has no capabilities, and seccomp denies every
socket-creating call (``socket``, ``socketpair``; Landlock's scope covers
abstract unix sockets) and every System V IPC and POSIX message queue call
(``shmget``, ``msgget``, ``semget``, ``mq_open`` and the rest), so no job can
leave an object there for a later one. Each child still checks that it is in
these namespaces, not the server's, and that they are empty. The mount
namespace is per child, for the job's private scratch tmpfs.

The UTS namespace (host name ``sandbox``) is shared the same way; the PID namespace is
each child's own, with the child as its init (see :mod:`.namespaces`). The zygote also
covers the host's directories once (see :func:`.namespaces.cover_host_files`), and each
child mounts a /proc of its own PID namespace over the host's.
"""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING

from .namespaces import (
    CLONE_NEWNS,
    JOB_HOSTNAME,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    JobNamespaces,
    ProtectionError,
    check_ipcns_empty,
    check_netns_empty,
    check_result,
    ns_inode,
)

if TYPE_CHECKING:
    from .protections import JobSpec, SandboxConfig


class IsolationSteps:
    """Check the namespaces a child runs in and give it its own view of the host."""

    config: SandboxConfig
    job_namespaces: JobNamespaces
    libc: ctypes.CDLL
    _scratch_fd: int

    @staticmethod
    def _check_clean_environment() -> str:
        # The kernel's copy of the environment this process image started with: the
        # server re-executed itself with none, so neither the initial stack nor the
        # heap of this (forked) process holds a variable of the server's caller.
        with open("/proc/self/environ", "rb") as environ:
            if environ.read():
                raise ProtectionError(
                    "the process started with environment variables (the server did not"
                    " re-execute itself with an empty environment)"
                )
        return "started from an empty environment: no variable of the server's caller in memory"

    def _check_pid_uts_ns(self) -> str:
        self._check_shared_namespace("uts", self.job_namespaces.utsns, "UTS")
        if os.getpid() != 1 or ns_inode("pid") == self.config.host_namespaces["pid"]:
            raise ProtectionError("not the init process of a PID namespace of its own")
        if os.uname().nodename != JOB_HOSTNAME:
            raise ProtectionError(f"host name is {os.uname().nodename!r}, not {JOB_HOSTNAME!r}")
        return (
            "pid 1 of its own PID namespace (no other process visible; signals it sends"
            f" itself are ignored unless handled); host name {JOB_HOSTNAME!r}"
        )

    def _check_shared_namespace(self, kind: str, expected: int, label: str) -> None:
        """Raise unless this process is in the zygote's namespace ``kind`` for jobs."""
        if self.job_namespaces.problem:
            raise ProtectionError(f"no namespaces for jobs: {self.job_namespaces.problem}")
        inode = ns_inode(kind)
        if inode == self.config.host_namespaces[kind]:
            raise ProtectionError(f"in the server's {label} namespace")
        if inode != expected:
            raise ProtectionError(f"not in the {label} namespace the zygote created for jobs")

    def _check_job_netns(self) -> str:
        self._check_shared_namespace("net", self.job_namespaces.netns, "network")
        check_netns_empty()
        return "empty network namespace shared by jobs; loopback down, no interfaces"

    def _ipc_new_mount_ns(self) -> str:
        self._check_shared_namespace("ipc", self.job_namespaces.ipcns, "IPC")
        check_ipcns_empty()
        check_result(self.libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        if ns_inode("mnt") == self.config.host_namespaces["mnt"]:
            raise ProtectionError("mount namespace unchanged after unshare")
        # Make every mount private so the job's scratch tmpfs never propagates out.
        check_result(
            self.libc.mount(b"none", b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None),
            "mount(/, MS_REC|MS_PRIVATE)",
        )
        return (
            "empty IPC namespace shared by jobs (System V IPC and message queues denied"
            " by seccomp); private mount namespace (mounts private)"
        )

    def _check_filesystem_view(self) -> str:
        if self.job_namespaces.view_problem:
            raise ProtectionError(f"host files not covered: {self.job_namespaces.view_problem}")
        # A /proc of this child's own PID namespace: /proc/<pid> of host processes
        # would otherwise stay visible to stat() even with Landlock denying their reads.
        flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV | MS_NOEXEC)
        check_result(self.libc.mount(b"proc", b"/proc", b"proc", flags, None), "mount(/proc)")
        processes = [name for name in os.listdir("/proc") if name.isdigit()]
        if processes != ["1"]:
            raise ProtectionError(f"/proc lists processes {processes[:5]}, not only this one")
        visible = [path for path in self.config.hidden_probes if os.path.lexists(path)]
        if visible:
            raise ProtectionError(f"host paths still visible: {', '.join(visible)}")
        return (
            "host directories covered by empty read-only tmpfs (only the interpreter's"
            " libraries, /dev/null, /dev/urandom and the scratch root bound back);"
            " /proc of the job's own PID namespace"
        )

    def _mount_scratch(self, spec: JobSpec) -> str:
        path = self.config.slot_dir(spec.slot)
        size_mb = self.config.scratch_mb
        options = f"size={size_mb}m,nr_inodes=4096,mode=0700,uid={spec.uid},gid={spec.uid}"
        flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV | MS_NOEXEC)
        check_result(
            self.libc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, options.encode()),
            f"mount(tmpfs on {path})",
        )
        os.chdir(path)
        here, parent = os.stat("."), os.stat(self.config.scratch_root)
        if here.st_dev == parent.st_dev or here.st_uid != spec.uid or here.st_mode & 0o077:
            raise ProtectionError("scratch tmpfs is not a private 0700 mount owned by the job uid")
        self._scratch_fd = os.open(".", os.O_PATH | os.O_CLOEXEC)
        return f"fresh {size_mb} MiB tmpfs per job (nosuid,nodev,noexec), visible only to the job"

    def _insecure_scratch_fallback(self, spec: JobSpec) -> None:
        """Without the tmpfs (insecure mode only), use the slot directory itself."""
        path = self.config.slot_dir(spec.slot)
        os.chown(path, spec.uid, spec.uid)
        os.chdir(path)
        self._scratch_fd = os.open(".", os.O_PATH | os.O_CLOEXEC)
