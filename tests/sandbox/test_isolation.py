"""Hostile jobs watching the host or each other, or faking an interruption (issue 10)."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from grading.sandbox.client import SandboxClient

from .conftest import CANARY, REPO_ROOT, UID_SHIFT, SandboxServer, start_server
from .test_jobs import assert_libc_calls_denied, assert_still_serving, run

#: The uid range of the shared test server (see conftest.sandbox).
JOB_UIDS = range(230_000 + UID_SHIFT, 230_000 + UID_SHIFT + 10)


def find_job_process(marker: str, uids: range = JOB_UIDS, timeout: float = 10.0) -> int:
    """Return the host pid of the running job whose scratch directory holds ``marker``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                status = Path(f"/proc/{entry}/status").read_text()
                uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
                if uid in uids and marker in os.listdir(f"/proc/{entry}/cwd"):
                    return int(entry)
            except (OSError, AttributeError):
                continue
        time.sleep(0.05)
    raise AssertionError(f"no job process with {marker!r} in its scratch directory")


def run_in_background(
    client: SandboxClient, code: str, **kwargs: Any
) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``client.run`` in a thread; the dict gets the response (or the exception)."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["response"] = client.run(code, job_id=kwargs.pop("job_id", "bg"), **kwargs)
        except Exception as exc:  # the test inspects it
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


SLEEPER = "open({marker!r}, 'w').close()\nimport time\ntime.sleep(20)\nprint('woke up')\n"


# --------------------------------------------------------------------------- interrupted


def test_a_job_killed_from_outside_is_interrupted(client: SandboxClient) -> None:
    # (A catchable signal from outside, such as SIGTERM, is ignored by the job: it is the
    # init process of its PID namespace and has no handler. Only SIGKILL gets through.)
    signum, marker = signal.SIGKILL, "killed-from-outside"
    thread, out = run_in_background(
        client, SLEEPER.format(marker=marker), limits={"wall_seconds": 25}
    )
    os.kill(find_job_process(marker), signum)  # as root, like the OOM killer or an operator
    thread.join(30)
    response = out["response"]
    assert response["verdict"] == "interrupted", response
    assert signal.Signals(signum).name in response["message"]
    assert "woke up" not in response["stdout"]
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "forbidden"),
        ("import os, signal\nos.kill(0, signal.SIGKILL)\n", "forbidden"),
        ("import signal\nsignal.raise_signal(signal.SIGKILL)\n", "forbidden"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n", "forbidden"),
        (
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "assert libc.syscall(234, 1, libc.gettid(), 9) == -1\n"  # tgkill(self, SIGKILL)
            "raise PermissionError(ctypes.get_errno())\n",
            "forbidden",
        ),
        # Other signals a job sends itself are ignored: it is pid 1 of its own namespace.
        (
            "import os, signal\nfor s in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1,"
            " signal.SIGQUIT, signal.SIGABRT, signal.SIGSEGV):\n"
            "    os.kill(os.getpid(), s)\n    signal.raise_signal(s)\n"
            "    os.kill(0, s)\nprint('still alive')\n",
            "ok",
        ),
        # A CPU-time limit of its own would bring the kernel's SIGKILL before the budget.
        (
            # (EPERM, which Python reports as "not allowed to raise maximum limit")
            "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (1, 1))\n"
            "while True:\n    pass\n",
            "error",
        ),
        (
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "limit = (ctypes.c_ulong * 2)(1, 1)\n"
            "assert libc.syscall(160, 0, ctypes.byref(limit)) == -1\n"  # raw setrlimit
            "import resource\nassert resource.getrlimit(resource.RLIMIT_CPU) == (5, 6)\n"
            "raise PermissionError(ctypes.get_errno())\n",
            "forbidden",
        ),
        ("import os\nos.abort()\n", "error"),
        ("import ctypes\nctypes.string_at(0)\n", "error"),
    ],
)
def test_a_job_cannot_fake_an_interruption(client: SandboxClient, code: str, verdict: str) -> None:
    response = run(client, code, verdict)
    if verdict == "ok":
        assert response["stdout"] == "still alive\n"


def test_shutdown_answers_jobs_in_flight_interrupted() -> None:
    server = start_server("shutdown", uid_base=260_000, args=("--prefork", "1", "--max-jobs", "2"))
    try:
        thread, out = run_in_background(
            server.client,
            SLEEPER.format(marker="shutdown"),
            limits={"wall_seconds": 25},
        )
        find_job_process("shutdown", uids=range(260_000 + UID_SHIFT, 260_002 + UID_SHIFT))
        server.process.send_signal(signal.SIGTERM)
        thread.join(30)
        assert server.process.wait(timeout=20) == 0
    finally:
        server.stop()
    # (Had the connection dropped instead, the client would raise SandboxUnavailable,
    # which the worker retries too; the server answers before it closes.)
    assert "error" not in out, out
    assert out["response"]["verdict"] == "interrupted", out["response"]
    assert "shutting down" in out["response"]["message"]


# --------------------------------------------------------------------------- processes


def test_no_host_process_census_and_no_sibling_pids(
    client: SandboxClient, sandbox: SandboxServer
) -> None:
    host_pids = [sandbox.pid, os.getpid(), *range(2, 40000)]
    code = (
        "import os, time\n"
        "seen = []\n"
        f"for pid in {host_pids!r}:\n"
        "    try:\n        os.getpgid(pid)\n        seen.append(pid)\n"
        "    except ProcessLookupError:\n        pass\n"
        "time.sleep(0.3)\n"
        "print(os.getpid(), os.getppid(), seen)\n"
    )
    threads = [run_in_background(client, code, job_id=f"census-{i}") for i in range(2)]
    for thread, _out in threads:
        thread.join(30)
    for _thread, out in threads:
        assert out["response"]["verdict"] == "ok", out["response"]
        # pid 1 of its own namespace: no parent, no sibling, no host process in sight.
        assert out["response"]["stdout"] == "1 0 []\n"


def test_hostname_is_neutral(client: SandboxClient) -> None:
    code = "import os, socket\nprint(socket.gethostname(), os.uname().nodename)\n"
    response = run(client, code, "ok")
    assert response["stdout"] == "sandbox sandbox\n"
    code = "import socket\nsocket.sethostname('pwned')\n"
    run(client, code, "forbidden")


# --------------------------------------------------------------------------- watching the host


def test_inotify_and_fanotify_are_denied(client: SandboxClient, tmp_path: Path) -> None:
    calls = [
        "libc.inotify_init1(0)",
        "libc.inotify_init()",
        "libc.inotify_add_watch(0, b'/tmp', 0xfff)",
        "libc.fanotify_init(0, 0)",
    ]
    assert_libc_calls_denied(client, calls)


def test_page_cache_probes_are_denied(client: SandboxClient) -> None:
    # Which pages of a shared library are cached says which pages another job touched.
    code = (
        "import ctypes, os, torch\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = os.open(torch.__file__, os.O_RDONLY)\n"
        "try:\n    os.preadv(fd, [bytearray(4096)], 0, os.RWF_NOWAIT)\n"
        "except OSError as exc:\n    print('preadv2', exc.errno)\n"
        "print('cachestat', libc.syscall(451, fd, None, None, 0), ctypes.get_errno())\n"
        "print(len(os.pread(fd, 4096, 0)))\n"  # reading itself still works
    )
    response = run(client, code, "ok")
    assert response["stdout"] == "preadv2 1\ncachestat -1 1\n4096\n"


LOCKS = (
    "import fcntl, os, struct, time, torch\n"
    "path = torch.__file__\n"  # readable by every job
    "results = []\n"
    "def attempt(name, call):\n"
    "    try:\n        call()\n        results.append(name + ' ok')\n"
    "    except OSError as exc:\n        results.append(f'{name} {exc.errno}')\n"
    "fd = os.open(path, os.O_RDONLY)\n"
    "null = os.open('/dev/null', os.O_RDWR)\n"
    "lock = struct.pack('hhqqi', fcntl.F_RDLCK, 0, 0, 0, 0)\n"
    "attempt('flock', lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB))\n"
    "attempt('flock-null', lambda: fcntl.flock(null, fcntl.LOCK_EX | fcntl.LOCK_NB))\n"
    "attempt('lockf', lambda: fcntl.lockf(null, fcntl.LOCK_EX | fcntl.LOCK_NB))\n"
    "attempt('setlk', lambda: fcntl.fcntl(fd, fcntl.F_SETLK, lock))\n"
    "attempt('getlk', lambda: fcntl.fcntl(fd, fcntl.F_GETLK, lock))\n"
    "attempt('ofd', lambda: fcntl.fcntl(fd, fcntl.F_OFD_SETLK, lock))\n"
    "attempt('ofd-get', lambda: fcntl.fcntl(fd, fcntl.F_OFD_GETLK, lock))\n"
    "attempt('lease', lambda: fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK))\n"
    "d = os.open(os.path.dirname(path), os.O_RDONLY)\n"
    "attempt('notify', lambda: fcntl.fcntl(d, fcntl.F_NOTIFY, fcntl.DN_CREATE))\n"
    "attempt('getfl', lambda: fcntl.fcntl(fd, fcntl.F_GETFL))\n"
    "time.sleep(0.5)\n"
    "print(results)\n"
)


def test_file_locks_are_no_channel_between_concurrent_jobs(client: SandboxClient) -> None:
    jobs = [run_in_background(client, LOCKS, job_id=f"lock-{i}") for i in range(2)]
    for thread, _out in jobs:
        thread.join(30)
    names = ("flock", "flock-null", "lockf", "setlk", "getlk", "ofd", "ofd-get", "lease", "notify")
    expected = str([f"{name} 1" for name in names] + ["getfl ok"]) + "\n"
    for _thread, out in jobs:
        assert out["response"]["verdict"] == "ok", out["response"]
        assert out["response"]["stdout"] == expected  # every lock call: EPERM
    assert_still_serving(client)


def test_sync_syncfs_and_sysinfo_are_denied(client: SandboxClient) -> None:
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.syscall(162), ctypes.get_errno())\n"  # sync
        "print(libc.syncfs(0), ctypes.get_errno())\n"
        # sysinfo: the host's process count, free memory and load
        "print(libc.sysinfo(ctypes.create_string_buffer(256)), ctypes.get_errno())\n"
        "import os, torch\nprint(os.cpu_count() >= 1, torch.ones(3).sum().item())\n"
    )
    assert run(client, code, "ok")["stdout"] == "-1 1\n-1 1\n-1 1\nTrue 3.0\n"


# --------------------------------------------------------------------------- environment


def test_server_reexecuted_itself_without_environment_or_secrets_in_argv(
    sandbox: SandboxServer,
) -> None:
    # Started with the canary in its environment (see conftest.start_server): the running
    # image has none, and its argv holds only the command line's paths and numbers.
    assert Path(f"/proc/{sandbox.pid}/environ").read_bytes() == b""
    argv = Path(f"/proc/{sandbox.pid}/cmdline").read_bytes().split(b"\0")
    assert argv[1:3] == [b"-m", b"grading.sandbox.server"]
    assert CANARY[0].encode() not in b" ".join(argv) and CANARY[1].encode() not in b" ".join(argv)
    assert b"--socket" in argv and b"--insecure-development-only" not in argv


def test_server_environment_is_nowhere_in_a_jobs_memory(client: SandboxClient) -> None:
    # The job scans its own initial stack (where the kernel put argv and the environment),
    # probing pages through write(2) to a pipe, which fails with EFAULT instead of crashing.
    scan = (
        "import ctypes, os, sys, time\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.getauxval.restype = ctypes.c_ulong\n"
        "libc.write.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)\n"
        "top = libc.getauxval(31) & ~4095\n"  # AT_EXECFN: a string at the top of the stack
        "r, w = os.pipe()\n"
        "def page(addr):\n"
        "    return os.read(r, 4096) if libc.write(w, addr, 4096) == 4096 else None\n"
        "pages, addr = [], top\n"
        "while (chunk := page(addr)) is not None and len(pages) < 4096:\n"
        "    pages.insert(0, chunk); addr -= 4096\n"
        "addr = top + 4096\n"
        "while (chunk := page(addr)) is not None and len(pages) < 8192:\n"
        "    pages.append(chunk); addr += 4096\n"
        "stack = b''.join(pages)\n"
        "open('scanning', 'w').close()\n"
        "heap_marker = ''.join(['heap', '-marker-', 'f00d'])\n"
        "time.sleep(1.5)\n"
        "print(len(stack), b'--scratch-root' in stack, b'SANDBOX_TEST' in stack,"
        " b'do-not-leak' in stack)\n"
    )
    thread, out = run_in_background(client, scan, limits={"wall_seconds": 20})
    pid = find_job_process("scanning")
    # Meanwhile, as root, read every writable mapping of the job's process: the stack,
    # the heap and every anonymous region inherited from the zygote and the server.
    found: set[bytes] = set()
    needles = (CANARY[0].encode(), CANARY[1].encode(), b"heap-marker-f00d")
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw"):
                continue
            start, end = (int(value, 16) for value in fields[0].split("-"))
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except OSError:
                continue
            found.update(needle for needle in needles if needle in data)
    thread.join(30)
    response = out["response"]
    assert response["verdict"] == "ok", response
    size, has_argv, has_name, has_value = response["stdout"].split()
    assert int(size) > 4096 and has_argv == "True"  # the scan did reach argv
    assert (has_name, has_value) == ("False", "False")
    assert found == {b"heap-marker-f00d"}  # the outside scan works, and finds no canary


# --------------------------------------------------------------------------- host files


def test_host_files_cannot_even_be_stat(client: SandboxClient, sandbox: SandboxServer) -> None:
    hidden = [
        f"{REPO_ROOT}/grading/sandbox/server.py",
        f"{REPO_ROOT}/pyproject.toml",
        "/etc/shadow",
        "/etc/passwd",
        "/root/.bashrc",
        str(sandbox.log_path),  # the server's log, in /tmp
        "/dev/shm",
        f"/run/grading-sandbox-uid-{JOB_UIDS[0]}.lock",  # the server's uid-range lock
        f"/proc/{sandbox.pid}",
        f"/proc/{os.getpid()}/exe",
        "/sys/kernel",
    ]
    code = (
        "import os\n"
        f"for path in {hidden!r}:\n"
        "    for probe in (os.stat, os.lstat, os.readlink):\n"
        "        try:\n            probe(path)\n"
        "            print('VISIBLE', probe.__name__, path)\n"
        "        except OSError as exc:\n"
        "            assert exc.errno in (2, 22), (path, exc)\n"  # ENOENT (EINVAL: no link)
        "print(os.path.exists(os.__file__), os.path.exists('/etc/ld.so.cache'))\n"
    )
    response = run(client, code, "ok")
    # What stays visible is what jobs read anyway: the interpreter's libraries and
    # site-packages, /etc/ld.so.cache, /dev/null and /dev/urandom, the scratch root.
    assert response["stdout"] == "True True\n", response["stdout"]
    assert all(os.path.exists(path) for path in hidden[:6])  # they do exist on the host
