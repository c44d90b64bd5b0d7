"""Fixtures for the grading sandbox tests: real sandbox servers run as root.

The server runs in the sandbox interpreter (``.venv-sandbox``, Python 3.11 with
torch) with a clean environment; the tests talk to it with the client from the
test interpreter, exactly as the Django application will.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from grading.sandbox.client import SandboxClient, SandboxUnavailable  # noqa: E402

SANDBOX_PYTHON = REPO_ROOT / ".venv-sandbox" / "bin" / "python"
#: Planted in the server's environment: a job must never see it.
CANARY = ("SANDBOX_TEST_CANARY_SECRET", "do-not-leak-4b1d")
HELLO = "import torch\nprint(torch.tensor([1., 2.]))\n"
HELLO_OUT = "tensor([1., 2.])\n"
#: Added to every test server's --uid-base, so concurrent test runs on one machine
#: (each with its own shift) never claim the same uid range.
UID_SHIFT = int(os.environ.get("TEST_SANDBOX_UID_SHIFT", "0"))


@dataclass
class SandboxServer:
    """A running sandbox server started by the tests."""

    process: subprocess.Popen[bytes]
    base: Path
    socket_path: str
    scratch_root: str
    log_path: Path
    client: SandboxClient

    @property
    def pid(self) -> int:
        """Return the server's process id."""
        return self.process.pid

    def log(self) -> str:
        """Return what the server has logged so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its files."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        shutil.rmtree(self.base, ignore_errors=True)


def start_server(
    name: str, *, uid_base: int, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> SandboxServer:
    """Start a sandbox server in a fresh directory and wait until it answers a ping."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox server needs root (namespaces, setuid, mounts)")
    if not SANDBOX_PYTHON.exists():
        pytest.skip(f"sandbox interpreter {SANDBOX_PYTHON} is missing")
    base = Path(tempfile.mkdtemp(prefix=f"sandbox-{name}-", dir="/tmp"))
    base.chmod(0o711)  # job uids must be able to traverse to their scratch directory
    socket_path = str(base / "sandbox.sock")
    scratch_root = str(base / "scratch")
    log_path = base / "server.log"
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", CANARY[0]: CANARY[1], **(extra_env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(SANDBOX_PYTHON),
                "-m",
                "grading.sandbox.server",
                "--socket",
                socket_path,
                "--scratch-root",
                scratch_root,
                "--uid-base",
                str(uid_base + UID_SHIFT),
                *args,
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = SandboxServer(
        process, base, socket_path, scratch_root, log_path, SandboxClient(socket_path, timeout=30)
    )
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            text = server.log()
            server.stop()
            pytest.fail(f"sandbox server exited with {process.returncode}:\n{text}")
        try:
            server.client.ping()
            return server
        except SandboxUnavailable:
            if time.monotonic() > deadline:
                text = server.log()
                server.stop()
                pytest.fail(f"sandbox server did not start in time:\n{text}")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """The sandbox server shared by the tests (all protections must be active)."""
    server = start_server("main", uid_base=230_000, args=("--prefork", "2", "--max-jobs", "10"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(sandbox: SandboxServer) -> SandboxClient:
    """A client of the shared sandbox server."""
    return sandbox.client
