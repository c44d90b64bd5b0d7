"""Landlock file-system, network and scope restrictions through raw syscalls.

Python has no Landlock binding, so this calls ``landlock_create_ruleset`` (444),
``landlock_add_rule`` (445) and ``landlock_restrict_self`` (446) through ctypes.
The numbers are the same on x86_64 and aarch64 (the unified syscall table).

The ruleset handles every access right the running kernel knows (the
"best-effort" scheme of the Landlock documentation): rights from newer ABIs are
simply left out on older kernels, so the sandbox degrades to what the kernel can
enforce and the protection report says which ABI was used.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat

SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446

CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1

ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_REMOVE_DIR = 1 << 4
ACCESS_FS_REMOVE_FILE = 1 << 5
ACCESS_FS_MAKE_CHAR = 1 << 6
ACCESS_FS_MAKE_DIR = 1 << 7
ACCESS_FS_MAKE_REG = 1 << 8
ACCESS_FS_MAKE_SOCK = 1 << 9
ACCESS_FS_MAKE_FIFO = 1 << 10
ACCESS_FS_MAKE_BLOCK = 1 << 11
ACCESS_FS_MAKE_SYM = 1 << 12
ACCESS_FS_REFER = 1 << 13  # ABI 2
ACCESS_FS_TRUNCATE = 1 << 14  # ABI 3
ACCESS_FS_IOCTL_DEV = 1 << 15  # ABI 5

ACCESS_NET_BIND_TCP = 1 << 0  # ABI 4
ACCESS_NET_CONNECT_TCP = 1 << 1  # ABI 4

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

#: Rights that make sense on a regular file (the kernel rejects the others).
FILE_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE
FILE_RIGHTS |= ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV

READ_ONLY = ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR
READ_WRITE_FILE = ACCESS_FS_READ_FILE | ACCESS_FS_WRITE_FILE | ACCESS_FS_TRUNCATE
#: What a job may do inside its own scratch directory: everything but creating
#: device nodes, sockets, FIFOs or symlinks, and executing.
SCRATCH = (
    READ_ONLY
    | ACCESS_FS_WRITE_FILE
    | ACCESS_FS_REMOVE_DIR
    | ACCESS_FS_REMOVE_FILE
    | ACCESS_FS_MAKE_DIR
    | ACCESS_FS_MAKE_REG
    | ACCESS_FS_REFER
    | ACCESS_FS_TRUNCATE
)


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel struct is __attribute__((packed)): 12 bytes
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class LandlockError(OSError):
    """A Landlock syscall failed."""


def _syscall(libc: ctypes.CDLL, *args: int | ctypes._Pointer | None) -> int:
    result = libc.syscall(*args)
    if result < 0:
        err = ctypes.get_errno()
        raise LandlockError(err, f"syscall {args[0]} failed: {os.strerror(err)}")
    return int(result)


def abi_version(libc: ctypes.CDLL) -> int:
    """Return the kernel's Landlock ABI version, or 0 when Landlock is unavailable."""
    result = libc.syscall(
        ctypes.c_long(SYS_CREATE_RULESET),
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(CREATE_RULESET_VERSION),
    )
    if result < 0:
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise LandlockError(err, f"cannot query the Landlock ABI: {os.strerror(err)}")
    return int(result)


def handled_fs_rights(abi: int) -> int:
    """Return every file-system right the given ABI can restrict."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= ACCESS_FS_REFER
    if abi >= 3:
        rights |= ACCESS_FS_TRUNCATE
    if abi >= 5:
        rights |= ACCESS_FS_IOCTL_DEV
    return rights


class Ruleset:
    """A Landlock ruleset that denies everything not explicitly allowed."""

    def __init__(self, libc: ctypes.CDLL, abi: int) -> None:
        """Create a ruleset handling every right the ABI supports."""
        if abi < 1:
            raise LandlockError(errno.ENOSYS, "Landlock is not supported by this kernel")
        self._libc = libc
        self.abi = abi
        self.handled_fs = handled_fs_rights(abi)
        attr = _RulesetAttr(handled_access_fs=self.handled_fs)
        size = 8
        if abi >= 4:
            # No network rule is ever added: binding or connecting any TCP port is denied.
            attr.handled_access_net = ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP
            size = 16
        if abi >= 6:
            # Signals and abstract unix sockets may only reach this domain's processes.
            attr.scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET
            size = 24
        self.fd = _syscall(
            libc,
            ctypes.c_long(SYS_CREATE_RULESET),
            ctypes.byref(attr),
            ctypes.c_size_t(size),
            ctypes.c_uint32(0),
        )

    def describe(self) -> str:
        """Summarise what the ruleset restricts."""
        parts = [f"ABI {self.abi}", "file system"]
        parts.append("TCP bind/connect" if self.abi >= 4 else "no TCP rules (ABI < 4)")
        if self.abi >= 6:
            parts.append("signal and abstract-unix-socket scopes")
        else:
            parts.append("no scopes (ABI < 6): signals rely on uid separation and seccomp")
        return ", ".join(parts)

    def allow(self, path: str, access: int) -> None:
        """Allow ``access`` beneath ``path`` (a directory) or on it (a file)."""
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            self.allow_fd(fd, access)
        finally:
            os.close(fd)

    def allow_fd(self, fd: int, access: int) -> None:
        """Allow ``access`` beneath the object that ``fd`` (an O_PATH fd) refers to."""
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= FILE_RIGHTS
        attr = _PathBeneathAttr(allowed_access=access & self.handled_fs, parent_fd=fd)
        _syscall(
            self._libc,
            ctypes.c_long(SYS_ADD_RULE),
            ctypes.c_int(self.fd),
            ctypes.c_int(RULE_PATH_BENEATH),
            ctypes.byref(attr),
            ctypes.c_uint32(0),
        )

    def restrict_self(self) -> None:
        """Enforce the ruleset on the calling thread (needs no_new_privs) and close it."""
        try:
            _syscall(
                self._libc,
                ctypes.c_long(SYS_RESTRICT_SELF),
                ctypes.c_int(self.fd),
                ctypes.c_uint32(0),
            )
        finally:
            self.close()

    def close(self) -> None:
        """Close the ruleset's file descriptor."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
