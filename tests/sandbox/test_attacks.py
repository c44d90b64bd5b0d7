"""Hostile jobs: every attempt must fail and the server must keep serving."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from grading.sandbox.client import SandboxClient

from .conftest import CANARY, REPO_ROOT, SandboxServer
from .test_jobs import assert_libc_calls_denied, run

REFUSED = ("forbidden", "error")


# --------------------------------------------------------------------------- network


@pytest.fixture
def listeners() -> tuple[socket.socket, socket.socket]:
    """A TCP and a UDP socket listening on 127.0.0.1 in the host's network namespace."""
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    tcp.settimeout(0.3)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.3)
    yield tcp, udp
    tcp.close()
    udp.close()


@pytest.mark.parametrize("kind", ["tcp", "udp"])
@pytest.mark.parametrize("host", ["127.0.0.1", "10.255.255.1"])
def test_network_is_unreachable(
    client: SandboxClient, listeners: tuple[socket.socket, ...], kind: str, host: str
) -> None:
    tcp, udp = listeners
    port = (tcp if kind == "tcp" else udp).getsockname()[1]
    sock_type = "SOCK_STREAM" if kind == "tcp" else "SOCK_DGRAM"
    code = (
        "import socket\n"
        f"s = socket.socket(socket.AF_INET, socket.{sock_type})\n"
        "s.settimeout(2)\n"
        f"s.connect(({host!r}, {port}))\n"
        "s.send(b'leak')\n"
        "print('connected')\n"
    )
    response = run(client, code, "forbidden")
    assert response["exception"]["type"] == "PermissionError"
    assert "connected" not in response["stdout"]
    with pytest.raises(TimeoutError):
        tcp.accept()
    with pytest.raises(TimeoutError):
        udp.recvfrom(100)


def test_unix_and_raw_syscall_sockets_are_denied(
    client: SandboxClient, sandbox: SandboxServer, listeners: tuple[socket.socket, ...]
) -> None:
    code = (
        "import ctypes, socket\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.syscall(41, 2, 1, 0), ctypes.get_errno())\n"  # socket(AF_INET, STREAM)
        "print(libc.syscall(41, 1, 1, 0), ctypes.get_errno())\n"  # socket(AF_UNIX, STREAM)
        "print(libc.syscall(53, 1, 1, 0, 0), ctypes.get_errno())\n"  # socketpair
        f"s = socket.socket(socket.AF_UNIX)\ns.connect({sandbox.socket_path!r})\n"
    )
    response = run(client, code, "forbidden")
    assert response["stdout"] == "-1 1\n-1 1\n-1 1\n"  # EPERM from seccomp
    with pytest.raises(TimeoutError):
        listeners[0].accept()


# --------------------------------------------------------------------------- files


def test_reading_secrets_and_project_files_is_forbidden(client: SandboxClient) -> None:
    for path in (
        "/etc/shadow",
        f"{REPO_ROOT}/pyproject.toml",
        f"{REPO_ROOT}/grading/sandbox/server.py",
        "/root/.bashrc",
        "/etc/hostname",
        "/proc/1/environ",
    ):
        # Landlock denies the read, and most of these do not even exist in a job's view.
        response = client.run(f"print(open({path!r}).read())\n", job_id="secrets")
        assert response["verdict"] in ("forbidden", "error"), response
        assert response["exception"]["type"] in ("PermissionError", "FileNotFoundError")
        assert response["stdout"] == ""
    for path in ("/", str(REPO_ROOT), "/etc", "/tmp", "/proc"):
        run(client, f"import os\nprint(os.listdir({path!r}))\n", "forbidden")


def test_environment_is_minimal(client: SandboxClient) -> None:
    response = run(client, "import os, json\nprint(json.dumps(dict(os.environ)))\n", "ok")
    environ = json.loads(response["stdout"])
    assert set(environ) <= {"PATH", "HOME", "TMPDIR", "LANG", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    assert CANARY[0] not in environ and CANARY[1] not in response["stdout"]
    # Not through /proc either.
    run(client, "print(open('/proc/self/environ').read())\n", "forbidden")


def test_writing_outside_scratch_is_forbidden(client: SandboxClient) -> None:
    targets = [
        "/tmp/sandbox-escape",
        f"{REPO_ROOT}/sandbox-escape",
        "/dev/shm/sandbox-escape",
        "/root/sandbox-escape",
        "/var/tmp/sandbox-escape",
    ]
    for target in targets:
        response = client.run(f"open({target!r}, 'w').write('x')\n", job_id="escape")
        # Denied by Landlock, on a read-only cover of the host's directory, or (/dev/shm,
        # /var/tmp) in a directory that does not even exist in the job's view.
        assert response["verdict"] in ("forbidden", "error"), response
        assert response["exception"]["type"] in ("PermissionError", "OSError", "FileNotFoundError")
        assert not os.path.exists(target)
    response = run(
        client, "open('inside.txt', 'w').write('ok')\nprint(open('inside.txt').read())\n", "ok"
    )
    assert response["stdout"] == "ok\n"


def test_other_jobs_scratch_is_invisible(client: SandboxClient, sandbox: SandboxServer) -> None:
    owner: dict[str, object] = {}

    def owner_job() -> None:
        code = (
            "import os, time\nopen('secret.txt', 'w').write('top-secret-42')\n"
            "print(os.getcwd(), flush=True)\ntime.sleep(1.5)\n"
        )
        owner["response"] = client.run(code, job_id="owner")

    thread = threading.Thread(target=owner_job)
    thread.start()
    snoop = (
        "import os, glob, time\ntime.sleep(0.5)\n"
        f"root = {sandbox.scratch_root!r}\n"
        "for attempt in (lambda: os.listdir(root), lambda: glob.glob(root + '/*/*'),\n"
        "                *[lambda s=s: open(f'{root}/{s}/secret.txt').read()\n"
        "                  for s in (f'slot-{i:03d}' for i in range(10))]):\n"
        "    try:\n        print('LEAK', attempt())\n"
        "    except OSError as exc:\n        print(type(exc).__name__)\n"
    )
    response = run(client, snoop, "ok")
    thread.join()
    assert "top-secret-42" not in response["stdout"]
    assert "LEAK" not in response["stdout"].replace("LEAK []", "")
    assert owner["response"]["verdict"] == "ok"  # type: ignore[index]
    # A later job starts with an empty scratch directory.
    fresh = run(client, "import os\nprint(os.listdir('.'))\n", "ok")
    assert fresh["stdout"] == "[]\n"


# --------------------------------------------------------------------------- processes


def test_fork_bomb_fails(client: SandboxClient) -> None:
    response = run(client, "import os\nwhile True:\n    os.fork()\n", "forbidden")
    assert response["exception"]["type"] == "PermissionError"
    threads = (
        "import threading, time\nwhile True:\n"
        "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
    )
    response = run(client, threads, "error", limits={"wall_seconds": 5})
    assert response["exception"]["type"] == "RuntimeError"  # can't start new thread


def test_programs_cannot_be_executed(client: SandboxClient) -> None:
    run(client, "import subprocess\nsubprocess.run(['sh', '-c', 'echo hi'])\n", "forbidden")
    response = run(client, "import os\nprint('status', os.system('echo hi'))\n", "ok")
    assert "hi\n" not in response["stdout"] and "status 0" not in response["stdout"]
    run(client, "import os\nos.execv('/bin/sh', ['sh', '-c', 'echo hi'])\n", "forbidden")
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.syscall(59, b'/bin/sh', None, None), ctypes.get_errno())\n"
    )
    assert run(client, code, "ok")["stdout"] == "-1 1\n"


def test_cannot_signal_the_server_or_its_children(
    client: SandboxClient, sandbox: SandboxServer
) -> None:
    for target in ("os.getppid()", str(sandbox.pid), "-1", "1"):
        response = run(
            client, f"import os, signal\nos.kill({target}, signal.SIGKILL)\n", "forbidden"
        )
        assert response["exception"]["type"] == "PermissionError"
    assert sandbox.process.poll() is None
    assert client.ping()["ready"] is True


def test_segfault_is_an_error_not_a_crash(client: SandboxClient, sandbox: SandboxServer) -> None:
    response = run(client, "import ctypes\nctypes.string_at(0)\n", "error")
    assert "SIGSEGV" in response["message"]
    assert sandbox.process.poll() is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("b'\\x00\\x00\\x00\\x05garbage'", "invalid data"),
        ("b'[' * 100000", "invalid data"),
        (
            "json.dumps({'status': 'ok', 'exception': None, 'kind': None,"
            " 'values': {'stolen': 1}, 'cpu_ms': 1}).encode()",
            "not requested",
        ),
        (
            "json.dumps({'status': 'exception', 'exception': {'type': 1}, 'kind': None,"
            " 'values': {}, 'cpu_ms': 1}).encode()",
            "exception",
        ),
        # Larger than what is parsed inside the server's loop: decoded by the helper process.
        ("b'[' * 300000", "invalid data"),
        (
            "json.dumps({'status': 'ok', 'exception': None, 'kind': None,"
            " 'values': {'stolen': 'x' * 300000}, 'cpu_ms': 1}).encode()",
            "not requested",
        ),
        # A forged refusal must not pass for a sandbox failure.
        ("json.dumps({'status': 'refused', 'reason': 'landlock: gone'}).encode()", "invalid data"),
        ("json.dumps({'state': 'refused', 'reason': 'landlock: gone'}).encode()", "invalid data"),
    ],
)
def test_garbage_on_the_result_channel(client: SandboxClient, payload: str, message: str) -> None:
    code = (
        f"import json, os\ndata = {payload}\n"
        "while data:\n    data = data[os.write(3, data):]\n"
        "os._exit(0)\n"
    )
    response = run(client, code, "error")
    assert message in response["message"], response
    assert response["sandbox_error"] is None


def test_status_channel_is_closed_before_job_code(client: SandboxClient) -> None:
    code = (
        'import os\ntry:\n    os.write(5, b\'{"state": "refused", "reason": "x"}\')\n'
        "except OSError as exc:\n    print(type(exc).__name__)\n"
    )
    response = run(client, code, "ok")
    assert response["stdout"] == "OSError\n" and response["sandbox_error"] is None


def test_memfd_is_denied(client: SandboxClient) -> None:
    response = run(client, "import os\nos.memfd_create('x')\n", "forbidden")
    assert response["exception"]["type"] == "PermissionError"


def test_sysv_ipc_and_message_queues_are_denied(client: SandboxClient) -> None:
    # Jobs share one empty IPC namespace, so none may create or reach an object there.
    calls = [
        "libc.shmget(0, 4096, 0o1666)",
        "libc.msgget(0, 0o1666)",
        "libc.semget(0, 1, 0o1666)",
        "libc.shmctl(0, 0, None)",
        "libc.mq_open(b'/q', 0o102, 0o666, None)",
    ]
    assert_libc_calls_denied(client, calls)


def test_jobs_are_outside_the_servers_namespaces(
    client: SandboxClient, sandbox: SandboxServer
) -> None:
    code = "import os\nprint(*(os.readlink(f'/proc/self/ns/{k}') for k in ('net', 'ipc', 'mnt')))\n"
    job = run(client, code, "ok")["stdout"].split()
    server = [os.readlink(f"/proc/{sandbox.pid}/ns/{kind}") for kind in ("net", "ipc", "mnt")]
    assert len(job) == 3 and not set(job) & set(server)


def test_closing_the_result_channel(client: SandboxClient) -> None:
    response = run(client, "import os\nos.close(3)\nprint('done')\n", "error")
    assert "without reporting a result" in response["message"]
