"""Measure grading through the real path (Celery + sandbox) against a fresh process per job.

Run by `make bench-grading`, which starts the sandbox and a worker on PostgreSQL and Redis.
Latency of one job is ``finished_at - requested_at`` as stored on its row: from the
moment the job is written (the task is sent on commit) to the moment its result is stored,
both stamped on this machine's clock. Jobs are sent one at a time for latency, then all at
once for throughput. The baseline is what a simpler system does: start Python, import
torch, run the code, once per job.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Organization
from accounts.tenancy import tenant_context
from grading.jobs import grading_job_create, grading_job_run, sandbox_client
from grading.models import GradingJob
from grading.sandbox.client import SandboxUnavailable

SNIPPET = """\
import torch
import torch.nn as nn
batch_norm = nn.BatchNorm1d(num_features=3)
print(batch_norm(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])))
"""
CODE_CONFIG = {
    "entry_point": "batch_norm",
    "reference": (
        "import torch\n"
        "def batch_norm(x):\n"
        "    return torch.nn.functional.batch_norm(x, None, None, training=True)\n"
    ),
    "tests": [
        {"name": "small", "setup": "args = (torch.randn(4, 3),)", "hidden": False},
        {"name": "wide", "setup": "args = (torch.randn(8, 16),)", "hidden": False},
        {"name": "hidden", "setup": "args = (torch.randn(32, 5) * 10 + 3,)", "hidden": True},
    ],
    "seed": 0,
    "atol": 1e-5,
    "rtol": 1e-4,
}
CANDIDATE = """\
import torch
def batch_norm(x, eps=1e-5):
    mean = x.mean(dim=0)
    var = x.var(dim=0, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


class Command(BaseCommand):
    help = "Benchmark grading jobs through Celery and the sandbox against a fresh process per job."

    def add_arguments(self, parser):
        parser.add_argument("--sequential", type=int, default=200, help="jobs sent one by one")
        parser.add_argument("--batch", type=int, default=400, help="jobs sent at once")
        parser.add_argument("--baseline", type=int, default=20, help="fresh-process runs")

    def handle(self, *args, sequential: int, batch: int, baseline: int, **options):
        try:
            status = sandbox_client().ping()
        except SandboxUnavailable as exc:
            raise CommandError(f"Start the sandbox first: {exc}") from exc
        organization, _ = Organization.objects.get_or_create(
            slug="bench", defaults={"name": "Benchmark"}
        )
        with tenant_context(organization):
            GradingJob.objects.all().delete()
            key = self._reference_key(organization)
            self.stdout.write(
                f"torch {status['torch_version']}; worker concurrency as started by make; "
                f"{sequential} sequential + {batch} batched jobs (half predict-output, half code)"
            )
            latencies = self._sequential(organization, key, sequential)
            throughput, batch_latencies = self._batch(organization, key, batch)
        direct = self._sandbox_direct(sequential)
        fresh = self._fresh_processes(baseline)
        p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
        b50, b95 = percentile(fresh, 0.5), percentile(fresh, 0.95)
        self.stdout.write("")
        self.stdout.write("                              p50 ms    p95 ms")
        self.stdout.write(
            f"  celery + warm sandbox     {p50:8.1f}  {p95:8.1f}   ({len(latencies)} jobs)"
        )
        self.stdout.write(
            f"  sandbox alone (no Celery) {percentile(direct, 0.5):8.1f}  "
            f"{percentile(direct, 0.95):8.1f}   ({len(direct)} predict-output jobs)"
        )
        self.stdout.write(
            f"  fresh process per job     {b50:8.1f}  {b95:8.1f}   ({len(fresh)} jobs)"
        )
        self.stdout.write(f"  speed-up at p50           {b50 / p50:8.1f}x")
        self.stdout.write(
            f"  throughput                {throughput:8.1f} jobs/s ({batch} jobs at once; "
            f"p50 {percentile(batch_latencies, 0.5):.0f} ms, p95 "
            f"{percentile(batch_latencies, 0.95):.0f} ms from send to result)"
        )

    def _reference_key(self, organization) -> dict:
        job = grading_job_create(
            organization_id=organization.pk, purpose="reference", answer_format="code",
            payload={"config": CODE_CONFIG}, enqueue=False,
        )  # fmt: skip
        job = grading_job_run(job_id=job.pk)
        if job.sandbox_verdict != "ok":
            raise CommandError(f"reference failed: {job.result}")
        return {"expected": job.result["expected"]}

    def _create(self, organization, key, index: int) -> int:
        if index % 2 == 0:
            job = grading_job_create(
                organization_id=organization.pk, purpose="snippet",
                answer_format="single_choice", payload={"code": SNIPPET},
            )  # fmt: skip
        else:
            job = grading_job_create(
                organization_id=organization.pk, purpose="answer", answer_format="code",
                payload={"answer": CANDIDATE, "key": key, "config": CODE_CONFIG},
            )  # fmt: skip
        return job.pk

    def _latencies(self, ids: list[int]) -> list[float]:
        rows = GradingJob.objects.filter(pk__in=ids).values_list(
            "requested_at", "finished_at", "status", "correct", "purpose"
        )
        latencies = []
        for requested, finished, state, correct, purpose in rows:
            if state != "done" or (purpose == "answer" and correct is not True):
                raise CommandError(f"a job ended {state} (correct={correct})")
            latencies.append((finished - requested).total_seconds() * 1000)
        return latencies

    def _wait(self, ids: list[int], timeout: float, poll: float) -> None:
        deadline = time.monotonic() + timeout
        while GradingJob.objects.filter(pk__in=ids, status__in=["queued", "running"]).exists():
            if time.monotonic() > deadline:
                raise CommandError("jobs did not finish in time: is a worker running?")
            time.sleep(poll)

    def _sequential(self, organization, key, count: int) -> list[float]:
        ids = []
        for index in range(count):
            with transaction.atomic():
                job_id = self._create(organization, key, index)
            self._wait([job_id], 30, 0.003)
            ids.append(job_id)
        return self._latencies(ids)

    def _batch(self, organization, key, count: int) -> tuple[float, list[float]]:
        with transaction.atomic():
            ids = [self._create(organization, key, index) for index in range(count)]
        self._wait(ids, 600, 0.05)
        rows = list(
            GradingJob.objects.filter(pk__in=ids).values_list("requested_at", "finished_at")
        )
        span = (max(f for _, f in rows) - min(r for r, _ in rows)).total_seconds()
        return count / span, self._latencies(ids)

    def _sandbox_direct(self, count: int) -> list[float]:
        client = sandbox_client()
        durations = []
        for index in range(count):
            started = time.perf_counter()
            client.run(SNIPPET, job_id=f"direct-{index}")
            durations.append((time.perf_counter() - started) * 1000)
        return durations

    def _fresh_processes(self, count: int) -> list[float]:
        python = Path(settings.BASE_DIR) / ".venv-sandbox" / "bin" / "python"
        durations = []
        for _ in range(count):
            started = time.perf_counter()
            subprocess.run(  # noqa: S603 - our own interpreter and fixed snippet
                [str(python), "-c", SNIPPET], check=True, capture_output=True,
                env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}, timeout=120,
            )  # fmt: skip
            durations.append((time.perf_counter() - started) * 1000)
        return durations
