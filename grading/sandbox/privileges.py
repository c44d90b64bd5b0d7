"""The privilege steps of a sandbox child's lock-down: identity, no_new_privs, Landlock, seccomp.

A mixin of :class:`.protections.Hardening`, which calls each method as one step of its
report: the Landlock ruleset and the seccomp program are prepared before the child's slot
is known (``prefork``), then, for the slot, the child gives up root for the slot's uid,
sets no_new_privs, enforces Landlock (with its scratch allowed) and installs the seccomp
filter, and probes that the filter denies each call that watches, locks or flushes host
files. Each step checks that it took effect.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import landlock, seccomp
from .namespaces import ProtectionError

if TYPE_CHECKING:
    from .protections import JobSpec, SandboxConfig


class PrivilegeSteps:
    """Give up the child's privileges for its slot and confine what it may call and open."""

    config: SandboxConfig
    libc: ctypes.CDLL
    failed: dict[str, str]
    _ruleset: landlock.Ruleset | None
    _bpf: bytes | None
    _arch: seccomp.Arch | None
    _scratch_fd: int
    _pdeathsig: Callable[[], None]  # set again once the uid changed (it clears it)

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
