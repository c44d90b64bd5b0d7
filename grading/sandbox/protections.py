"""Apply and verify the protections of a forked sandbox child.

Each protection is applied by one step and checked right after it, because a
setting that silently did not take effect is worse than one that fails loudly.
Every step runs in a freshly forked child *before* it is handed a job, so when a
job arrives only its code has to be read and run. The child is forked for one
concurrency slot (its uid and scratch mount point), and the steps run in two
phases:

* ``prefork`` (as root, job-independent): lay out and close the file
  descriptors, start a new session, check that the process holds no environment
  (the server re-executed itself with an empty one, so not even the initial stack
  holds its variables), check that the child is in the jobs' empty network and IPC
  namespaces, enter a new mount namespace, check that it is pid 1 of its own PID
  namespace and in the jobs' UTS namespace, prepare the Landlock ruleset for the
  static read-only paths, and build the seccomp program.
* ``lock_down`` (for the child's slot, still before any job): mount the slot's
  private scratch tmpfs, set resource limits (CPU time and address space at the
  server's maxima), drop to the slot's unprivileged uid/gid, set no_new_privs,
  enforce Landlock, install the seccomp filter, and probe that the filter denies
  each call that watches, locks or flushes host files.

When the job arrives, :meth:`Hardening.narrow_limits` lowers the CPU-time and
address-space limits to the job's own, hard limits included: an unprivileged
process may always lower its limits and never raise them, so job code cannot
undo it. Nothing of the job's code runs before all of this succeeded.

The namespace steps and the child's view of the host's files are in
:mod:`.isolation`; giving up root and confining calls and files (identity,
no_new_privs, Landlock, seccomp) in :mod:`.privileges`; the resource limits in
:mod:`.rlimits`. This module holds the order, the report and the descriptors.

Every step records "ok + detail" or "failed + reason" in a report. A failure
never stops the remaining steps (so a self-test can say everything that is
wrong), but the caller refuses to run job code unless the operator explicitly
set ``SANDBOX_INSECURE_DEVELOPMENT_ONLY=1``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import select
from collections.abc import Callable
from dataclasses import dataclass, field

from . import landlock, rlimits, seccomp
from .isolation import IsolationSteps
from .namespaces import (
    JobNamespaces,
    ProtectionError,
    check_result,
    libc,
)
from .privileges import PrivilegeSteps

#: Every protection, in the order it is applied.
PROTECTIONS = (
    "file_descriptors",
    "clean_environment",
    "network_namespace",
    "ipc_mount_namespace",
    "pid_uts_namespace",
    "scratch_tmpfs",
    "filesystem_view",
    "rlimits",
    "identity",
    "no_new_privs",
    "landlock",
    "seccomp",
    "host_observation",
)

#: File descriptors of a sandbox child.
FD_STDIN, FD_STDOUT, FD_STDERR, FD_RESULT, FD_CONTROL, FD_STATUS = 0, 1, 2, 3, 4, 5
CHILD_FDS = frozenset({FD_STDIN, FD_STDOUT, FD_STDERR, FD_RESULT, FD_CONTROL, FD_STATUS})
#: A pidfd of the zygote, held only while locking down (closed before any job code).
FD_PARENT = 6

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class SandboxConfig:
    """Static facts the children need; built by the server before it forks."""

    scratch_root: str
    uid_base: int
    scratch_mb: int
    #: The most CPU time and memory any job may be given; a waiting child is limited to
    #: these, and each job's own (lower or equal) limits are set when it arrives.
    max_cpu_seconds: float
    max_memory_mb: int
    readonly_paths: tuple[str, ...]
    readwrite_files: tuple[str, ...]
    server_pid: int
    #: Inode numbers of the server's net, ipc, mnt, pid and uts namespaces.
    host_namespaces: dict[str, int]
    #: Host paths a job must not even see exist (the source tree, /etc/shadow).
    hidden_probes: tuple[str, ...] = ()
    #: The seccomp program, built once by the server, or why it could not be.
    seccomp_template: seccomp.FilterTemplate | None = None
    seccomp_problem: str = "not built"
    insecure: bool = False
    test_disabled: frozenset[str] = field(default_factory=frozenset)

    def slot_dir(self, slot: int) -> str:
        """Return the scratch directory of a concurrency slot."""
        return os.path.join(self.scratch_root, f"slot-{slot:03d}")


@dataclass
class JobSpec:
    """The slot a child serves and the limits it must enforce."""

    slot: int
    uid: int
    cpu_seconds: float
    memory_mb: int


class Hardening(PrivilegeSteps, IsolationSteps):
    """Apply the protections in a sandbox child and keep a report of each."""

    def __init__(self, config: SandboxConfig, job_namespaces: JobNamespaces | None = None) -> None:
        """Prepare to harden the calling (freshly forked, single-threaded) child."""
        self.config = config
        self.job_namespaces = job_namespaces or JobNamespaces()
        self.libc = libc()
        self.ok: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self._ruleset: landlock.Ruleset | None = None
        self._bpf: bytes | None = None
        self._arch: seccomp.Arch | None = None
        self._cpu_limit_lock: seccomp.CpuLimitLock | None = None
        self._scratch_fd = -1
        self._vm_base = 0

    # ------------------------------------------------------------------ bookkeeping

    def _step(self, name: str, action: Callable[[], str | None]) -> None:
        if name in self.failed:
            return  # an earlier phase of this protection already failed
        if name in self.config.test_disabled:
            self.failed[name] = "deliberately disabled by SANDBOX_TEST_DISABLE (testing only)"
            return
        try:
            detail = action()
        except (ProtectionError, OSError, ValueError) as exc:
            self.failed[name] = str(exc) or type(exc).__name__
            self.ok.pop(name, None)
        else:
            if detail:
                self.ok[name] = detail

    def report(self) -> dict[str, dict[str, object]]:
        """Return ``{protection: {"ok": bool, "detail": str}}`` for every protection."""
        out: dict[str, dict[str, object]] = {}
        for name in PROTECTIONS:
            if name in self.failed:
                out[name] = {"ok": False, "detail": self.failed[name]}
            else:
                out[name] = {"ok": name in self.ok, "detail": self.ok.get(name, "not applied")}
        return out

    def refusal(self) -> str | None:
        """Return why job code must not run, or None when every protection is active."""
        missing = {
            name: detail["detail"] for name, detail in self.report().items() if not detail["ok"]
        }
        if not missing:
            return None
        return "; ".join(f"{name}: {reason}" for name, reason in missing.items())

    # ------------------------------------------------------------------ prefork phase

    def prefork(self, fds: dict[int, int]) -> None:
        """Run the job-independent steps; ``fds`` maps target fd -> inherited fd."""
        self._step("file_descriptors", lambda: self._layout_fds(fds))
        self._step("clean_environment", self._check_clean_environment)
        self._step("network_namespace", self._check_job_netns)
        self._step("ipc_mount_namespace", self._ipc_new_mount_ns)
        self._step("pid_uts_namespace", self._check_pid_uts_ns)
        self._step("landlock", self._prepare_landlock)
        self._step("seccomp", self._prepare_seccomp)

    def _layout_fds(self, fds: dict[int, int]) -> str:
        # Move the inherited pipes above the target range first so that a dup2 to
        # 0..6 never overwrites a source that happens to live there.
        high = {
            target: fcntl.fcntl(src, fcntl.F_DUPFD, FD_PARENT + 1) for target, src in fds.items()
        }
        null = os.open("/dev/null", os.O_RDONLY)
        if null != FD_STDIN:
            os.dup2(null, FD_STDIN)
        for target, src in high.items():
            os.dup2(src, target)
        # close_range() under the hood: everything else inherited from the parent.
        os.closerange(FD_PARENT + 1, 2**31 - 1)
        os.setsid()  # own session and process group: kill(0, ...) reaches only itself
        # PR_SET_PDEATHSIG: die with the parent; then check the parent did not
        # already die before the setting took effect.
        self._pdeathsig()
        open_fds = {int(name) for name in os.listdir("/proc/self/fd")}
        # listdir's own descriptor is the lowest free one, FD_PARENT + 1.
        extra = open_fds - CHILD_FDS - {FD_PARENT, FD_PARENT + 1}
        if extra:
            raise ProtectionError(f"inherited descriptors still open: {sorted(extra)}")
        return "only stdin (/dev/null), stdout, stderr, result, control and status pipes are open"

    def _pdeathsig(self) -> None:
        ulong = ctypes.c_ulong
        check_result(
            self.libc.prctl(ctypes.c_int(PR_SET_PDEATHSIG), ulong(9), ulong(0), ulong(0), ulong(0)),
            "prctl(PR_SET_PDEATHSIG)",
        )
        # The parent may have died before the setting took effect. Its pid is not
        # visible from this PID namespace; its pidfd becomes readable once it exits.
        if select.select([FD_PARENT], [], [], 0)[0]:
            raise ProtectionError("the parent process died")

    # ------------------------------------------------------------------ slot phase

    def lock_down(self, spec: JobSpec) -> None:
        """Run the slot's steps, in an order where each still has the rights it needs."""
        # Measured now, after any warm-up the child did since the fork.
        self._vm_base = rlimits.vm_size()
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:
            # Landlock and seccomp only restrict the calling thread.
            for name in ("landlock", "seccomp"):
                self.failed.setdefault(name, f"process has {threads} threads, expected 1")
        self._step("scratch_tmpfs", lambda: self._mount_scratch(spec))
        if "scratch_tmpfs" in self.failed and self.config.insecure:
            self._insecure_scratch_fallback(spec)
        self._step("filesystem_view", self._check_filesystem_view)
        self._step(
            "rlimits",
            lambda: rlimits.set_waiting_limits(
                cpu_seconds=spec.cpu_seconds,
                memory_mb=spec.memory_mb,
                vm_base=self._vm_base,
                scratch_mb=self.config.scratch_mb,
            ),
        )
        self._step("landlock", self._allow_scratch)
        # The child was forked at the zygote's low priority so that its set-up never
        # slows a running job; its job must run at normal priority, and once the uid is
        # dropped it can no longer raise its priority (that needs CAP_SYS_NICE).
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, 0)
        self._step("identity", lambda: self._drop_identity(spec))
        self._step("no_new_privs", self._no_new_privs)
        self._step("landlock", self._enforce_landlock)
        self._step("seccomp", self._install_seccomp)
        self._step("host_observation", self._check_host_observation)
        if self._arch is not None and "seccomp" not in self.failed:
            self._cpu_limit_lock = seccomp.CpuLimitLock(self.libc, self._arch)
        if self._scratch_fd >= 0:
            os.close(self._scratch_fd)
            self._scratch_fd = -1
        with contextlib.suppress(OSError):
            os.close(FD_PARENT)

    def narrow_limits(self, cpu_seconds: float, memory_mb: int) -> None:
        """Lower the CPU-time and address-space limits (soft and hard) to a job's own.

        Called once the job has arrived, by the already unprivileged child: lowering a
        hard limit needs no privilege and can never be undone without one.
        """
        rlimits.set_job_limits(cpu_seconds=cpu_seconds, memory_mb=memory_mb, vm_base=self._vm_base)
        if self._cpu_limit_lock is not None:
            # So that the kernel's SIGKILL at the CPU limit always means the job's budget.
            self._cpu_limit_lock.install()
