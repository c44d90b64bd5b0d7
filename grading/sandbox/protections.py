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
:mod:`.isolation`.

Every step records "ok + detail" or "failed + reason" in a report. A failure
never stops the remaining steps (so a self-test can say everything that is
wrong), but the caller refuses to run job code unless the operator explicitly
set ``SANDBOX_INSECURE_DEVELOPMENT_ONLY=1``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import math
import os
import resource
import select
from collections.abc import Callable
from dataclasses import dataclass, field

from . import landlock, seccomp
from .isolation import IsolationSteps
from .namespaces import (
    JobNamespaces,
    ProtectionError,
    check_result,
    libc,
)

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

#: Threads (and processes) one job's uid may have: torch runs single-threaded
#: here, but job code may start a few threads of its own.
NPROC_LIMIT = 32
NOFILE_LIMIT = 64


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


class Hardening(IsolationSteps):
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

    def _prepare_landlock(self) -> None:
        abi = landlock.abi_version(self.libc)
        if abi < 1:
            raise ProtectionError(
                "Landlock is not available (kernel without CONFIG_SECURITY_LANDLOCK"
                " or not in the lsm= list)"
            )
        ruleset = landlock.Ruleset(self.libc, abi)
        for path in self.config.readonly_paths:
            ruleset.allow(path, landlock.READ_ONLY)
        for path in self.config.readwrite_files:
            ruleset.allow(path, landlock.READ_WRITE_FILE)
        self._ruleset = ruleset

    def _prepare_seccomp(self) -> None:
        template = self.config.seccomp_template
        if template is None:
            raise ProtectionError(self.config.seccomp_problem)
        self._arch = template.arch
        self._bpf = template.for_pid(os.getpid())

    @staticmethod
    def _vm_size() -> int:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmSize:"):
                    return int(line.split()[1]) * 1024
        return 0

    # ------------------------------------------------------------------ slot phase

    def lock_down(self, spec: JobSpec) -> None:
        """Run the slot's steps, in an order where each still has the rights it needs."""
        # Measured now, after any warm-up the child did since the fork.
        self._vm_base = self._vm_size()
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:
            # Landlock and seccomp only restrict the calling thread.
            for name in ("landlock", "seccomp"):
                self.failed.setdefault(name, f"process has {threads} threads, expected 1")
        self._step("scratch_tmpfs", lambda: self._mount_scratch(spec))
        if "scratch_tmpfs" in self.failed and self.config.insecure:
            self._insecure_scratch_fallback(spec)
        self._step("filesystem_view", self._check_filesystem_view)
        self._step("rlimits", lambda: self._set_rlimits(spec))
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

    def _set_rlimits(self, spec: JobSpec) -> str:
        cpu = max(1, math.ceil(spec.cpu_seconds))
        # Address space: what the warm interpreter already maps (inherited from the
        # fork) plus the job's allowance.
        address_space = self._vm_base + spec.memory_mb * 1024 * 1024
        file_size = self.config.scratch_mb * 1024 * 1024
        wanted = {
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
        _apply_rlimits(wanted)
        return (
            f"cpu {cpu}s, address space {address_space >> 20} MiB "
            f"({spec.memory_mb} MiB over the warm interpreter) while waiting, each lowered"
            f" to the job's own limits when it arrives; nproc {NPROC_LIMIT}, "
            f"fsize {self.config.scratch_mb} MiB, nofile {NOFILE_LIMIT}, core 0"
        )

    def narrow_limits(self, cpu_seconds: float, memory_mb: int) -> None:
        """Lower the CPU-time and address-space limits (soft and hard) to a job's own.

        Called once the job has arrived, by the already unprivileged child: lowering a
        hard limit needs no privilege and can never be undone without one.
        """
        cpu = max(1, math.ceil(cpu_seconds))
        address_space = self._vm_base + memory_mb * 1024 * 1024
        _apply_rlimits(
            {
                resource.RLIMIT_CPU: (cpu, cpu + 1),
                resource.RLIMIT_AS: (address_space, address_space),
            }
        )
        if self._cpu_limit_lock is not None:
            # So that the kernel's SIGKILL at the CPU limit always means the job's budget.
            self._cpu_limit_lock.install()

    def _allow_scratch(self) -> None:
        if self._ruleset is None:
            raise ProtectionError("the Landlock ruleset was not prepared")
        if self._scratch_fd < 0:
            raise ProtectionError("no scratch directory to allow")
        self._ruleset.allow_fd(self._scratch_fd, landlock.SCRATCH)

    def _drop_identity(self, spec: JobSpec) -> str:
        uid = spec.uid
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid):
            raise ProtectionError("uid/gid did not change")
        if os.getgroups():
            raise ProtectionError("supplementary groups remain")
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise ProtectionError("could switch back to uid 0")
        # Changing credentials clears the parent-death signal; set it again. The
        # process is now non-dumpable, so other processes of this uid cannot
        # ptrace it or read its /proc files either.
        self._pdeathsig()
        return (
            f"uid/gid {uid} (uid base {self.config.uid_base} + slot {spec.slot}), "
            "no supplementary groups, no capabilities, cannot regain root"
        )

    def _no_new_privs(self) -> str:
        seccomp.set_no_new_privs(self.libc)
        return "PR_SET_NO_NEW_PRIVS set"

    def _enforce_landlock(self) -> str:
        if self._ruleset is None:
            raise ProtectionError("the Landlock ruleset was not prepared")
        describe = self._ruleset.describe()
        self._ruleset.restrict_self()
        try:
            os.close(os.open("/", os.O_RDONLY | os.O_DIRECTORY))
        except PermissionError:
            pass
        else:
            raise ProtectionError("'/' is still readable after landlock_restrict_self")
        return describe

    def _install_seccomp(self) -> str:
        if self._bpf is None or self._arch is None:
            raise ProtectionError("the seccomp program was not built")
        seccomp.install(self.libc, self._arch, self._bpf)
        return (
            f"{self._arch.name} deny-list filter ({len(self._bpf) // 8} instructions): "
            "sockets, SysV IPC, exec, fork, namespaces, ptrace, foreign signals, mount, bpf, "
            "io_uring, keyctl, modules ... -> EPERM; clone3 -> ENOSYS"
        )

    def _check_host_observation(self) -> str:
        if "seccomp" in self.failed or self._arch is None:
            raise ProtectionError("the seccomp filter is not installed")
        return seccomp.check_denials(self.libc, self._arch, os.getpid())


def _apply_rlimits(wanted: dict[int, tuple[int, int]]) -> None:
    """Set resource limits, then check that each one is exactly what was asked for."""
    for which, limits in wanted.items():
        resource.setrlimit(which, limits)
    for which, limits in wanted.items():
        if resource.getrlimit(which) != limits:
            raise ProtectionError(f"rlimit {which} is {resource.getrlimit(which)}, not {limits}")
