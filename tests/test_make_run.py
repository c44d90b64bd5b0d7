"""`make run` on a shared machine: free port and uid range, two side by side, a clean stop."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SCRIPT = ROOT / ".ci" / "make-run.sh"
# The test's own settings must not leak into `make run`: it runs on its embedded defaults.
DROPPED = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SANDBOX_SOCKET", "SITE_URL"}


def run_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED and not k.startswith("TEST_")}
    env.update(extra)
    return env


def preflight(**extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), "--preflight"],
        cwd=ROOT,
        env=run_env(**extra),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def choice(output: str, name: str) -> str:
    return re.search(rf"{name}=(\S+)", output).group(1)


def test_a_taken_port_is_skipped_or_refused_at_once_with_the_fix():
    first = choice(preflight().stdout, "PORT")
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", int(first)))
        taken.listen()
        picked = choice(preflight().stdout, "PORT")
        assert picked != first
        started = time.monotonic()
        refused = preflight(PORT=first)
    assert refused.returncode == 2
    assert time.monotonic() - started < 5
    assert f"port {first} is in use" in refused.stderr
    assert "make run PORT=" in refused.stderr


def test_a_uid_range_in_use_is_skipped_or_refused_at_once_with_the_fix():
    first = choice(preflight().stdout, "SANDBOX_UID_BASE")
    # Hold the lock a running sandbox holds for its uids.
    fd = os.open(f"/run/grading-sandbox-uid-{first}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert choice(preflight().stdout, "SANDBOX_UID_BASE") != first
        refused = preflight(SANDBOX_UID_BASE=first)
    finally:
        os.close(fd)
    assert refused.returncode == 2
    assert f"uids from {first} are in use" in refused.stderr
    assert "make run SANDBOX_UID_BASE=" in refused.stderr


def test_a_second_instance_gets_its_own_var_dir_and_site_url():
    output = preflight(PORT="8123").stdout
    assert choice(output, "VAR_DIR").endswith("/var/port-8123")
    assert choice(output, "SITE_URL") == "http://127.0.0.1:8123"


@pytest.mark.django_db
def test_sandbox_status_wait_fails_naming_a_missing_protection(tmp_path_factory):
    import tempfile

    from tests.processes import stop_process_group

    shift = int(os.environ.get("TEST_SANDBOX_UID_SHIFT", "0"))
    uid_base = 205000 + (shift // 1000) * 8
    fd = os.open(f"/run/grading-sandbox-uid-{uid_base}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    # Held here, the lock makes the sandbox's uid range unusable: "identity" is missing.
    held = True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        held = False  # another sandbox holds it: the protection is missing all the same
    directory = Path(tempfile.mkdtemp(prefix="ml-assess-status-"))
    directory.chmod(0o711)
    sandbox = subprocess.Popen(
        [str(ROOT / ".venv-sandbox/bin/python"), "-m", "grading.sandbox.server",
         "--socket", str(directory / "s.sock"), "--scratch-root", str(directory / "scratch"),
         "--prefork", "1", "--uid-base", str(uid_base)],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin"}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        from tests.processes import run_manage

        result = run_manage(
            "sandbox_status", "--wait", "90", SANDBOX_SOCKET=str(directory / "s.sock")
        )
    finally:
        stop_process_group(sandbox)
        os.close(fd)
    assert held or "identity" in result.stdout
    assert result.returncode != 0, result.stdout
    assert re.search(r"identity +MISSING", result.stdout), result.stdout
    assert "protection(s) missing: identity" in result.stderr


def _start_instance(name: str) -> tuple[subprocess.Popen, Path]:
    log = ROOT / "var" / "test-artifacts" / f"make-run-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [str(SCRIPT)],
        cwd=ROOT,
        env=run_env(VAR_DIR=str(ROOT / "var" / f"test-make-run-{name}")),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # As from a terminal: a background child would inherit SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    return process, log


def _wait_for(log: Path, pattern: str, process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if re.search(pattern, text):
            return text
        assert process.poll() is None, text
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} not seen in {timeout}s:\n{log.read_text()}")


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own server
        return response.status


def test_two_instances_serve_side_by_side_and_stop_cleanly_on_sigint_or_a_double_sigterm():
    instances, ports = [], set()
    try:
        for name in ("a", "b"):
            process, log = _start_instance(name)
            instances.append((process, log))
            # The second picks its port and uids once the first holds them.
            _wait_for(log, r"Instance: port \d+", process, 60)
            time.sleep(2)
        outputs = [_wait_for(log, r"Ctrl-C stops", process, 300) for process, log in instances]
        for output in outputs:
            link = re.search(r"candidate link [^:]*: (http://127\.0\.0\.1:(\d+)/t/\S+)", output)
            ports.add(link.group(2))
            assert _get(f"http://127.0.0.1:{link.group(2)}/healthz") == 200
            assert _get(link.group(1)) == 200
            # The logins and the link come last, after the worker and web server started.
            assert output.rindex("candidate link") > output.rindex("Starting the worker")
        assert len(ports) == 2
        # The first stops as Ctrl-C stops it; the second as a supervisor stops `make run`:
        # TERM to the group, then TERM again to the script, as make forwards it.
        for (process, log), stop in zip(instances, ("ctrl-c", "supervisor"), strict=True):
            started = time.monotonic()
            if stop == "ctrl-c":
                os.killpg(process.pid, signal.SIGINT)
            else:
                os.killpg(process.pid, signal.SIGTERM)
                time.sleep(0.3)
                process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            text = log.read_text(errors="replace")
            assert "Segmentation fault" not in text and "Stopped." in text, text
            assert time.monotonic() - started < 30
    finally:
        for process, _log in instances:
            # The script's own trap stops its children (each in its own process group).
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
    patterns = [str(ROOT / "var" / "test-make-run-"), *(f"runserver 127.0.0.1:{p}" for p in ports)]
    for pattern in patterns:
        found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
        assert found.stdout == "", found.stdout
