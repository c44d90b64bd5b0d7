"""The wire protocol, the client's error classes, and refusal without protections."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grading.sandbox import protocol
from grading.sandbox.client import SandboxClient, SandboxRequestError, SandboxUnavailable

from .conftest import HELLO, HELLO_OUT, REPO_ROOT, SANDBOX_PYTHON, SandboxServer, start_server
from .test_jobs import assert_still_serving


def _connect(sandbox: SandboxServer) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(sandbox.socket_path)
    return sock


def test_several_requests_on_one_connection(sandbox: SandboxServer) -> None:
    with _connect(sandbox) as sock:
        # Pipelined: all three are sent before reading any answer.
        for message in (
            {"op": "ping"},
            {"op": "run", "job_id": "a", "code": HELLO},
            {"op": "run", "job_id": "b", "code": "print(2 + 2)"},
        ):
            protocol.send_frame(sock, message)
        ping = protocol.recv_frame(sock, protocol.MAX_RESPONSE_BYTES)
        first = protocol.recv_frame(sock, protocol.MAX_RESPONSE_BYTES)
        second = protocol.recv_frame(sock, protocol.MAX_RESPONSE_BYTES)
    assert ping["ok"] is True and "protections" in ping
    assert (first["job_id"], first["stdout"]) == ("a", HELLO_OUT)
    assert (second["job_id"], second["stdout"]) == ("b", "4\n")


def test_malformed_requests_are_rejected(sandbox: SandboxServer) -> None:
    with _connect(sandbox) as sock:
        sock.sendall(struct.pack(">I", 5) + b"{nope")
        assert "invalid JSON" in protocol.recv_frame(sock, 1 << 20)["error"]
        for message, text in (
            ([1, 2], "JSON object"),
            ({"op": "explode"}, "unknown op"),
            ({"op": "run", "job_id": "x"}, "'code'"),
            ({"op": "run", "job_id": "x", "code": "", "limits": {"wall_seconds": -1}}, "at least"),
            ({"op": "run", "job_id": "x", "code": "", "capture": ["not an id"]}, "identifier"),
            ({"op": "run", "job_id": "x", "code": "", "evil": 1}, "unknown field"),
        ):
            protocol.send_frame(sock, message)
            answer = protocol.recv_frame(sock, 1 << 20)
            assert answer["ok"] is False and text in answer["error"], (message, answer)
        sock.sendall(struct.pack(">I", protocol.MAX_REQUEST_BYTES + 1))
        assert "exceeds" in protocol.recv_frame(sock, 1 << 20)["error"]
        assert sock.recv(1) == b""  # closed after an oversized frame
    with pytest.raises(SandboxRequestError, match="at least"):
        sandbox.client.run("pass", job_id="x", limits={"memory_mb": 1})
    assert_still_serving(sandbox.client)


def test_client_disconnect_mid_job_keeps_server_healthy(sandbox: SandboxServer) -> None:
    sock = _connect(sandbox)
    protocol.send_frame(
        sock,
        {
            "op": "run",
            "job_id": "gone",
            "code": "import time\ntime.sleep(20)",
            "limits": {"wall_seconds": 20},
        },
    )
    sock.close()
    assert_still_serving(sandbox.client)
    # The abandoned job is killed: all slots become free again quickly.
    deadline = time.monotonic() + 5
    while sandbox.client.ping()["busy_slots"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.client.ping()["busy_slots"] == 0


def test_unreachable_server_raises_sandbox_unavailable() -> None:
    client = SandboxClient("/nonexistent/sandbox.sock", timeout=1)
    with pytest.raises(SandboxUnavailable):
        client.ping()
    with pytest.raises(SandboxUnavailable):
        client.run(HELLO, job_id="x")


def test_server_refuses_to_run_code_without_a_protection(sandbox: SandboxServer) -> None:
    # Landlock is disabled on purpose, and the uid range clashes with the running server.
    server = start_server(
        "refusing",
        uid_base=230_000,
        extra_env={"SANDBOX_TEST_DISABLE": "landlock"},
        args=("--prefork", "1", "--max-jobs", "2"),
    )
    try:
        status = server.client.ping()
        assert status["ready"] is False
        assert status["protections"]["landlock"]["ok"] is False
        assert "SANDBOX_TEST_DISABLE" in status["protections"]["landlock"]["detail"]
        assert status["protections"]["seccomp"]["ok"] is True
        assert "another sandbox server" in status["protections"]["identity"]["detail"]
        assert "landlock" in status["refusal"]
        response = server.client.run("print('should not run')\n", job_id="refused")
        assert response["verdict"] == "error"
        assert response["stdout"] == ""
        assert "landlock" in response["sandbox_error"]
        assert response["sandbox_error"] == response["message"]
        log = server.log()
        assert "REFUSING TO RUN CODE" in log and "landlock" in log
    finally:
        server.stop()


def test_server_imports_no_application_code_and_client_no_torch() -> None:
    if not SANDBOX_PYTHON.exists():
        pytest.skip(f"sandbox interpreter {SANDBOX_PYTHON} is missing")
    probe = (
        "import sys, grading.sandbox.server\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in"
        " ('django', 'config', 'accounts', 'assessments', 'celery')"
        " or (m.startswith('grading.') and not m.startswith('grading.sandbox'))]\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [str(SANDBOX_PYTHON), "-c", probe],
        cwd=REPO_ROOT,
        env={},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "[]\n"
    client_probe = "import sys, grading.sandbox.client\nprint('torch' in sys.modules)\n"
    result = subprocess.run(
        [sys.executable, "-c", client_probe],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "False\n"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (protocol.encode_frame({"ok": False, "error": "busy", "retry": True}), SandboxUnavailable),
        (protocol.encode_frame({"ok": False, "error": "bad limits"}), SandboxRequestError),
        (protocol.encode_frame({"ok": True, "verdict": "pwned"}), SandboxUnavailable),
        (struct.pack(">I", 3) + b"{{{", SandboxUnavailable),
        (struct.pack(">I", 100) + b"{}", SandboxUnavailable),  # closed mid-frame
        (b"", SandboxUnavailable),  # closed without answering
    ],
)
def test_client_classifies_failures(tmp_path: Path, reply: bytes, error: type) -> None:
    path = str(tmp_path / "fake.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            protocol.recv_frame(conn, 1 << 20)
            conn.sendall(reply)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with pytest.raises(error):
            SandboxClient(path, timeout=5).run("pass", job_id="x")
    finally:
        thread.join(5)
        listener.close()
