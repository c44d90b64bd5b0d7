"""Start-up of the sandbox server: command line, torch warm-up and static configuration."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import grp
import io
import os
import pwd
import shutil
import stat
import sys
import sysconfig
from typing import NoReturn

from . import protocol, seccomp
from .namespaces import host_namespaces
from .protections import SandboxConfig
from .values import Runtime

INSECURE_ENV = "SANDBOX_INSECURE_DEVELOPMENT_ONLY"
TEST_DISABLE_ENV = "SANDBOX_TEST_DISABLE"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the server's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m grading.sandbox.server",
        description="Grading sandbox server for untrusted PyTorch code.",
    )
    parser.add_argument("--socket", required=True, help="unix socket path to listen on")
    parser.add_argument(
        "--scratch-root",
        required=True,
        help="directory for per-slot scratch mounts (created, mode 0711)",
    )
    parser.add_argument(
        "--uid-base",
        type=int,
        default=200_000,
        help="first unprivileged uid; a job in slot k runs as uid-base + k",
    )
    parser.add_argument("--prefork", type=int, default=2, help="idle pre-forked children to keep")
    parser.add_argument("--max-jobs", type=int, default=8, help="jobs that may run at once")
    parser.add_argument(
        "--max-queue",
        type=int,
        default=256,
        help="jobs that may wait for a slot; more are turned away as busy",
    )
    parser.add_argument("--scratch-mb", type=int, default=64, help="size of a job's scratch tmpfs")
    parser.add_argument(
        "--socket-mode",
        type=lambda text: int(text, 8),
        default=0o600,
        help="permissions of the socket file, in octal (default 600)",
    )
    maxima = protocol.DEFAULT_MAXIMA
    parser.add_argument("--max-wall", type=float, default=maxima.wall_seconds)
    parser.add_argument("--max-cpu", type=float, default=maxima.cpu_seconds)
    parser.add_argument("--max-memory-mb", type=int, default=maxima.memory_mb)
    parser.add_argument("--max-output-bytes", type=int, default=maxima.output_bytes)
    parser.add_argument("--log-level", default="INFO")
    # Set from the environment by the re-execution (see reexecute_without_environment).
    parser.add_argument("--insecure-development-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--test-disable", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 <= args.prefork <= 64 or not 1 <= args.max_jobs <= 256:
        parser.error("--prefork must be in [0, 64] and --max-jobs in [1, 256]")
    if args.scratch_mb < 1 or args.max_wall <= 0 or args.max_cpu <= 0:
        parser.error("--scratch-mb, --max-wall and --max-cpu must be positive")
    return args


def started_with_environment() -> bool:
    """Say whether this process image started with any environment variable."""
    with open("/proc/self/environ", "rb") as environ:
        return bool(environ.read(1))


def reexecute_without_environment(argv: list[str]) -> NoReturn:
    """Run the server again in this process, with an empty environment; never return.

    ``os.environ.clear()`` would leave the original strings on the initial stack (and
    Python's copies in the heap) that the zygote and every child inherit: only a new
    process image starts clean. The two settings the server reads from its environment
    become command-line flags; nothing else is carried over, and the flags hold no
    secret.
    """
    extra = []
    if os.environ.get(INSECURE_ENV) == "1":
        extra.append("--insecure-development-only")
    if os.environ.get(TEST_DISABLE_ENV):
        extra += ["--test-disable", os.environ[TEST_DISABLE_ENV]]
    os.execve(  # noqa: S606 - the same trusted interpreter and module, argv as given
        sys.executable, [sys.executable, "-m", "grading.sandbox.server", *argv, *extra], {}
    )


def warm_up() -> Runtime:
    """Import torch once, single-threaded, and exercise what typical jobs use."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"  # read when the libraries load, so set before importing
    import numpy
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    buffer = io.StringIO()
    print(torch.tensor([1.0, 2.0]), file=buffer)
    norm = torch.nn.BatchNorm1d(3)
    print(norm(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])), file=buffer)
    torch.nn.functional.relu(torch.randn(3, 3) @ torch.randn(3, 3)).sum().item()
    # Optimisers import torch._dynamo lazily (about a second); torch.save/load
    # pull in zipfile and pickle machinery. Load them once here, not per job.
    model = torch.nn.Linear(2, 1)
    for optimizer in (
        torch.optim.SGD(model.parameters(), lr=0.1),
        torch.optim.Adam(model.parameters()),
    ):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(torch.ones(4, 2)), torch.zeros(4, 1)).backward()
        optimizer.step()
    saved = io.BytesIO()
    torch.save(model.state_dict(), saved)
    saved.seek(0)
    model.load_state_dict(torch.load(saved))
    numpy.arange(3).sum()
    return Runtime(torch=torch, numpy=numpy, job_sys_path=())


def is_under(path: str, parent: str) -> bool:
    """Say whether ``path`` is ``parent`` or lies beneath it."""
    return os.path.commonpath([path, parent]) == parent


def readonly_paths() -> tuple[str, ...]:
    """Return what a job may read: the stdlib, site-packages, shared libraries, urandom."""
    paths = sysconfig.get_paths()
    candidates = [
        paths["stdlib"],
        paths["platstdlib"],
        paths["purelib"],
        paths["platlib"],
        "/usr/lib",
        "/usr/lib64",
        "/lib",
        "/lib64",
        "/usr/local/lib",
        "/dev/urandom",
        "/dev/random",
        "/etc/ld.so.cache",
    ]
    resolved: list[str] = []
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.exists(real) and real not in resolved:
            resolved.append(real)
    dirs = [path for path in resolved if os.path.isdir(path)]
    # Drop paths already covered by a listed parent directory.
    return tuple(
        path
        for path in resolved
        if not any(path != parent and is_under(path, parent) for parent in dirs)
    )


def prepare_scratch(root: str, slots: int) -> str | None:
    """Create the scratch root and one mount point per slot; return a problem, if any."""
    os.makedirs(root, exist_ok=True)
    os.chown(root, 0, 0)
    # Job uids must traverse the root to reach their own mount, but not list it.
    os.chmod(root, stat.S_IRWXU | stat.S_IXGRP | stat.S_IXOTH)  # noqa: S103
    path = root
    while path != "/":
        mode = os.stat(path).st_mode
        if not mode & stat.S_IXOTH:
            return f"{path} is not traversable by other users (mode {stat.filemode(mode)})"
        path = os.path.dirname(path)
    for slot in range(slots):
        slot_dir = os.path.join(root, f"slot-{slot:03d}")
        if os.path.lexists(slot_dir):
            shutil.rmtree(slot_dir)
        os.mkdir(slot_dir, 0o700)
    return None


#: Held for the server's lifetime: two servers must never hand out the same uids.
_uid_lock_fd: int | None = None


def uid_problem(uid_base: int, slots: int, lock_dir: str = "/run") -> str | None:
    """Check that the slots' uids and gids belong to nobody and to no other sandbox server."""
    global _uid_lock_fd
    if uid_base < 1000 or uid_base + slots > 2**31 - 2:
        return f"uid base {uid_base} out of range [1000, 2^31 - {slots + 2}]"
    lock_path = os.path.join(lock_dir, f"grading-sandbox-uid-{uid_base}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return (
            f"uids from {uid_base} are in use by another sandbox server ({lock_path}); "
            "give each server its own --uid-base range"
        )
    _uid_lock_fd = fd
    for uid in range(uid_base, uid_base + slots):
        with contextlib.suppress(KeyError):
            return f"uid {uid} belongs to user {pwd.getpwuid(uid).pw_name!r}"
        with contextlib.suppress(KeyError):
            return f"gid {uid} belongs to group {grp.getgrgid(uid).gr_name!r}"
    return None


def build_config(args: argparse.Namespace) -> tuple[SandboxConfig, dict[str, str]]:
    """Build the children's static configuration; also return start-up problems."""
    problems: dict[str, str] = {}
    readonly = readonly_paths()
    scratch_root = os.path.realpath(args.scratch_root)
    for path in (scratch_root, os.getcwd()):
        for allowed in readonly:
            if is_under(path, allowed):
                problems["landlock"] = f"{path} lies inside the readable path {allowed}"
    scratch = prepare_scratch(scratch_root, args.max_jobs)
    if scratch:
        problems["scratch_tmpfs"] = scratch
    uids = uid_problem(args.uid_base, args.max_jobs)
    if uids:
        problems["identity"] = uids
    try:
        template, seccomp_problem = seccomp.build_template(seccomp.current_arch()), ""
    except seccomp.SeccompError as exc:
        template, seccomp_problem = None, str(exc)
    config = SandboxConfig(
        scratch_root=scratch_root,
        uid_base=args.uid_base,
        scratch_mb=args.scratch_mb,
        max_cpu_seconds=args.max_cpu,
        max_memory_mb=args.max_memory_mb,
        readonly_paths=readonly,
        readwrite_files=("/dev/null",),
        server_pid=os.getpid(),
        host_namespaces=host_namespaces(),
        hidden_probes=tuple(
            path
            for path in (os.path.join(os.getcwd(), "grading"), "/etc/shadow", "/etc/hostname")
            if os.path.lexists(path)
        ),
        seccomp_template=template,
        seccomp_problem=seccomp_problem,
        insecure=args.insecure_development_only,
        test_disabled=frozenset(filter(None, args.test_disable.split(","))),
    )
    return config, problems


def job_sys_path(readonly: tuple[str, ...]) -> tuple[str, ...]:
    """Return the entries of ``sys.path`` a job can import from (never the project tree)."""
    dirs = [path for path in readonly if os.path.isdir(path)]
    return tuple(
        path for path in sys.path if path and any(is_under(os.path.realpath(path), d) for d in dirs)
    )
