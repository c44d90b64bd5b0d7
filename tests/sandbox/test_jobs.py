"""Ordinary jobs: output, captured values, exceptions, limits and concurrency."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

from grading.sandbox.client import SandboxClient

from .conftest import HELLO, HELLO_OUT, SandboxServer


def assert_still_serving(client: SandboxClient) -> None:
    """Run a normal job and check its exact output."""
    response = client.run(HELLO, job_id="health-check")
    assert response["verdict"] == "ok", response
    assert response["stdout"] == HELLO_OUT


def run(client: SandboxClient, code: str, verdict: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``code``, assert its verdict, then assert the server still serves a normal job."""
    response = client.run(code, job_id=kwargs.pop("job_id", "test"), **kwargs)
    assert response["verdict"] == verdict, response
    assert_still_serving(client)
    return response


def assert_libc_calls_denied(client: SandboxClient, calls: list[str]) -> None:
    """Run each libc call (Python source using ``libc``) in one job; each must get EPERM."""
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"for call in ({', '.join(f'lambda: {call}' for call in calls)},):\n"
        "    print(call(), ctypes.get_errno())\n"
    )
    assert run(client, code, "ok")["stdout"] == "-1 1\n" * len(calls)  # EPERM from seccomp


def test_ping_reports_every_protection_active(client: SandboxClient) -> None:
    status = client.ping()
    assert status["ready"] is True
    assert status["torch_version"].startswith("2.13")
    failed = {name: s["detail"] for name, s in status["protections"].items() if not s["ok"]}
    assert failed == {}
    for name in (
        "network_namespace",
        "landlock",
        "seccomp",
        "identity",
        "rlimits",
        "no_new_privs",
        "file_descriptors",
        "self_test",
    ):
        assert status["protections"][name]["ok"] is True


def test_print_tensor_exact_output(client: SandboxClient) -> None:
    response = run(client, HELLO, "ok")
    assert response["stdout"] == HELLO_OUT
    assert response["stderr"] == ""
    assert response["exception"] is None
    assert response["torch_version"].startswith("2.13")
    assert response["wall_ms"] > 0 and response["cpu_ms"] >= 0


def test_predict_output_batchnorm(client: SandboxClient) -> None:
    code = (
        "import torch\nimport torch.nn as nn\n"
        "bn = nn.BatchNorm1d(3)\n"
        "print(bn(torch.tensor([[1., 2., 3.], [4., 5., 6.]])))\n"
    )
    response = run(client, code, "ok")
    assert response["stdout"] == (
        "tensor([[-1.0000, -1.0000, -1.0000],\n"
        "        [ 1.0000,  1.0000,  1.0000]], grad_fn=<NativeBatchNormBackward0>)\n"
    )


def test_capture_values(client: SandboxClient) -> None:
    code = (
        "import torch, numpy as np\n"
        "t = torch.arange(6, dtype=torch.float32).reshape(2, 3)\n"
        "odd = torch.tensor([float('nan'), float('inf'), -float('inf')])\n"
        "ints = torch.tensor([[1, 2]], dtype=torch.int64)\n"
        "half = torch.tensor([0.5], dtype=torch.float16)\n"
        "arr = np.array([1.5, 2.5])\n"
        "plain = {'a': [1, 2.5, 'x', None, True], 'b': (3, 4)}\n"
        "obj = object()\n"
        "big = torch.zeros(1000, 1000)\n"
    )
    names = ["t", "odd", "ints", "half", "arr", "plain", "obj", "big", "never_defined"]
    values = run(client, code, "ok", capture=names)["values"]
    assert values["t"] == {
        "type": "tensor",
        "dtype": "float32",
        "shape": [2, 3],
        "data": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]],
    }
    assert values["odd"]["data"] == ["nan", "inf", "-inf"]
    assert values["ints"] == {"type": "tensor", "dtype": "int64", "shape": [1, 2], "data": [[1, 2]]}
    assert values["half"]["dtype"] == "float16" and values["half"]["data"] == [0.5]
    assert values["arr"] == {
        "type": "ndarray",
        "dtype": "float64",
        "shape": [2],
        "data": [1.5, 2.5],
    }
    assert values["plain"] == {"a": [1, 2.5, "x", None, True], "b": [3, 4]}
    assert values["obj"]["type"] == "repr" and values["obj"]["repr"].startswith("<object")
    assert values["big"]["shape"] == [1000, 1000] and values["big"]["data"] is None
    assert values["big"]["truncated"] is True
    assert "never_defined" not in values


def test_exception_with_trimmed_traceback(client: SandboxClient) -> None:
    code = "import torch\n\ndef f(x):\n    return x @ torch.zeros(3)\n\nf(torch.zeros(2))\n"
    response = run(client, code, "error")
    exc = response["exception"]
    assert exc["type"] == "RuntimeError"
    assert "inconsistent tensor size" in exc["message"]
    trace = exc["traceback"]
    assert trace.startswith("Traceback (most recent call last):\n")
    assert 'File "<candidate>", line 6, in <module>' in trace
    assert 'File "<candidate>", line 4, in f' in trace
    assert "return x @ torch.zeros(3)" in trace
    assert trace.rstrip().endswith(f"RuntimeError: {exc['message']}".rstrip())
    assert "grading" not in trace and "sandbox" not in trace and "site-packages" not in trace


def test_plain_exception_and_syntax_error(client: SandboxClient) -> None:
    response = run(client, "x = 1\nraise ValueError('bad value')\n", "error")
    assert response["exception"]["type"] == "ValueError"
    assert response["exception"]["message"] == "bad value"
    assert response["exception"]["traceback"] == (
        "Traceback (most recent call last):\n"
        '  File "<candidate>", line 2, in <module>\n'
        "    raise ValueError('bad value')\n"
        "ValueError: bad value\n"
    )
    syntax = run(client, "def f(:\n    pass\n", "error")["exception"]
    assert syntax["type"] == "SyntaxError"
    assert "<candidate>" in syntax["traceback"] and "Traceback" not in syntax["traceback"]


def test_sys_exit_and_stderr(client: SandboxClient) -> None:
    response = run(
        client, "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(0)\n", "ok"
    )
    assert response["stdout"] == "out\n" and response["stderr"] == "err\n"
    assert run(client, "raise SystemExit(3)\n", "error")["exception"]["type"] == "SystemExit"


def test_torch_features_work_inside_the_sandbox(client: SandboxClient) -> None:
    code = (
        "import os, tempfile, threading, random, json, math, numpy as np, torch\n"
        "import torch.nn as nn, torch.nn.functional as F\n"
        "torch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "x, y = torch.randn(16, 4), torch.randn(16, 1)\n"
        "for _ in range(5):\n"
        "    opt.zero_grad(); loss = F.mse_loss(model(x), y); loss.backward(); opt.step()\n"
        "torch.save(model.state_dict(), 'model.pt')\n"
        "model.load_state_dict(torch.load('model.pt'))\n"
        "with tempfile.NamedTemporaryFile() as handle: handle.write(b'x')\n"
        "results = []\n"
        "threads = [threading.Thread(target=lambda: results.append(torch.ones(2).sum().item()))\n"
        "           for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "ok = (results == [2.0] * 4, bool(np.ones(3).sum() == 3),\n"
        "      os.getcwd() == os.environ['HOME'])\n"
        "print(ok, os.urandom(4) != os.urandom(4), random.random() < 1)\n"
        "import ctypes\n"  # callbacks need executable trampolines (no memfd here)
        "cmp = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int),\n"
        "                       ctypes.POINTER(ctypes.c_int))(lambda a, b: a[0] - b[0])\n"
        "array = (ctypes.c_int * 3)(3, 1, 2)\n"
        "ctypes.CDLL(None).qsort(array, 3, ctypes.sizeof(ctypes.c_int), cmp)\n"
        "print(list(array))\n"
    )
    response = run(client, code, "ok")
    assert response["stdout"] == "(True, True, True) True True\n[1, 2, 3]\n", response


def test_infinite_loop_hits_cpu_limit(client: SandboxClient) -> None:
    started = time.monotonic()
    response = run(
        client,
        "while True:\n    pass\n",
        "time_limit",
        limits={"cpu_seconds": 1, "wall_seconds": 10},
    )
    assert "CPU" in response["message"]
    assert time.monotonic() - started < 6


def test_sleep_hits_wall_clock_limit(client: SandboxClient) -> None:
    started = time.monotonic()
    response = run(
        client, "import time\ntime.sleep(10**6)\n", "time_limit", limits={"wall_seconds": 1}
    )
    assert "wall-clock" in response["message"]
    assert 0.9 < response["wall_ms"] / 1000 < 3
    assert time.monotonic() - started < 5


def test_memory_limits(client: SandboxClient) -> None:
    limits = {"memory_mb": 256}
    tensor = run(client, "import torch\nx = torch.ones(10**9)\n", "memory_limit", limits=limits)
    assert tensor["exception"]["type"] == "RuntimeError"
    buffer = run(client, "b = bytearray(3 * 1024**3)\n", "memory_limit", limits=limits)
    assert buffer["exception"]["type"] == "MemoryError"
    run(
        client,
        "chunks = []\nwhile True:\n    chunks.append(bytearray(10**6))\n",
        "memory_limit",
        limits=limits,
    )
    # Within the limit, a large allocation works.
    run(
        client,
        "import torch\nx = torch.ones(25 * 10**6)\nprint(x.sum().item())\n",
        "ok",
        limits=limits,
    )


def test_printing_100_mb_hits_output_limit(sandbox: SandboxServer) -> None:
    client = sandbox.client

    def rss_kb() -> int:
        status = Path(f"/proc/{sandbox.pid}/status").read_text()
        return int(status.split("VmRSS:")[1].split()[0])

    before = rss_kb()
    code = (
        "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\n"
    )
    response = run(client, code, "output_limit", limits={"output_bytes": 65536})
    assert len(response["stdout"]) <= 65536
    loop = "for i in range(10**7):\n    print(i)\n"
    response = run(client, loop, "output_limit", limits={"output_bytes": 1 << 20})
    assert len(response["stdout"]) <= 1 << 20
    assert rss_kb() - before < 50_000  # the server never buffered the flood


def test_limits_are_clamped_and_defaulted(client: SandboxClient) -> None:
    response = client.run(
        "pass\n", job_id="clamp", limits={"wall_seconds": 10_000, "memory_mb": 10**6}
    )
    assert response["limits"] == {
        "wall_seconds": 30.0,
        "cpu_seconds": 5.0,
        "memory_mb": 2048,
        "output_bytes": 65536,
    }


def test_concurrent_jobs(client: SandboxClient) -> None:
    results: dict[int, dict[str, Any]] = {}

    def work(index: int) -> None:
        code = (
            f"import torch, time\ntime.sleep(0.2)\nx = torch.full((2,), {index}.0)\n"
            f"print('job', {index}, x.sum().item())\n"
        )
        results[index] = client.run(code, job_id=f"c{index}", capture=["x"])

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in range(8):
        response = results[index]
        assert response["verdict"] == "ok", response
        assert response["job_id"] == f"c{index}"
        assert response["stdout"] == f"job {index} {2.0 * index}\n"
        assert response["values"]["x"]["data"] == [float(index)] * 2
    assert_still_serving(client)


def test_trivial_job_latency(client: SandboxClient) -> None:
    timings = []
    for index in range(60):
        started = time.perf_counter()
        response = client.run(HELLO, job_id=f"speed-{index}")
        timings.append((time.perf_counter() - started) * 1000)
        assert response["stdout"] == HELLO_OUT
    median = statistics.median(timings)
    print(f"median round trip of a trivial job: {median:.2f} ms")
    assert median < 50


def test_a_waiting_child_takes_the_jobs_own_limits_and_the_job_cannot_raise_them(
    client: SandboxClient,
) -> None:
    # Children lock down before their job arrives, with the server's maxima, and lower
    # CPU time and address space to the job's limits when it does.
    code = (
        "import resource\n"
        "cpu = resource.getrlimit(resource.RLIMIT_CPU)\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
        "try:\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (hard * 2, hard * 2))\n"
        "    raised = 'raised'\n"
        "except ValueError:\n"
        "    raised = 'refused'\n"
        "try:\n"
        "    block = bytearray(400 * 1024**2)\n"  # fits the maxima, not the job's 300 MB
        "    allocated = 'allocated'\n"
        "except MemoryError:\n"
        "    allocated = 'out of memory'\n"
        "print(cpu, soft == hard, raised, allocated)\n"
    )
    response = run(client, code, "ok", limits={"cpu_seconds": 2, "memory_mb": 300})
    assert response["stdout"] == "(2, 3) True refused out of memory\n"
