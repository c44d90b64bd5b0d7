"""Measure grading through the real path (Celery + sandbox) against a fresh process per job.

Run by `make bench-grading`, which starts the sandbox and a worker on PostgreSQL and Redis.
Every time is taken by this process's own clock. A job starts when its task is sent to the
broker (Celery's ``before_task_publish``, fired on commit of the transaction that wrote the
job) and ends when this process is told that the job's result is stored: a trigger that
the benchmark installs for its run sends a PostgreSQL NOTIFY when a job row becomes done,
which is delivered only once that UPDATE has committed. The time from just before the
transaction that writes the job is printed too. Nothing is polled, so the benchmark does
not load the machine it measures. Jobs are sent one at a time for latency, then all at once
for throughput. The baseline is what a simpler system does: start Python, import torch,
run the code, once per job.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from celery.signals import before_task_publish
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

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


CHANNEL = "bench_grading_done"
NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION bench_grading_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', NEW.id::text);
  RETURN NULL;
END $$ LANGUAGE plpgsql
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
        if connection.vendor != "postgresql":
            raise CommandError("the benchmark needs PostgreSQL (it listens for NOTIFY)")
        organization, _ = Organization.objects.get_or_create(
            slug="bench", defaults={"name": "Benchmark"}
        )
        self.sent: dict[int, float] = {}
        before_task_publish.connect(self._on_publish)
        try:
            with tenant_context(organization), self._notifications():
                GradingJob.objects.all().delete()
                key = self._reference_key(organization)
                self.stdout.write(
                    f"torch {status['torch_version']}; worker concurrency as started by make; "
                    f"{sequential} sequential + {batch} batched jobs "
                    "(half predict-output, half code)"
                )
                latencies, from_write = self._sequential(organization, key, sequential)
                throughput, with_writes, batch_latencies = self._batch(organization, key, batch)
        finally:
            before_task_publish.disconnect(self._on_publish)
        direct = self._sandbox_direct(sequential)
        fresh = self._fresh_processes(baseline)
        p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
        b50, b95 = percentile(fresh, 0.5), percentile(fresh, 0.95)
        self.stdout.write("")
        self.stdout.write("                              p50 ms    p95 ms")
        self.stdout.write(
            f"  celery + warm sandbox     {p50:8.1f}  {p95:8.1f}   ({len(latencies)} jobs, "
            "from the task sent to the stored result seen)"
        )
        self.stdout.write(
            f"    same, from the job write{percentile(from_write, 0.5):8.1f}  "
            f"{percentile(from_write, 0.95):8.1f}   (the caller's INSERT and COMMIT included)"
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
            f"  throughput                {throughput:8.1f} jobs/s ({batch} jobs at once, from the "
            f"first task sent to the last result seen; {with_writes:.1f} counting their writes)"
        )
        self.stdout.write(
            f"    batch latency           {percentile(batch_latencies, 0.5):8.0f}  "
            f"{percentile(batch_latencies, 0.95):8.0f}   (queueing included)"
        )

    @contextlib.contextmanager
    def _notifications(self) -> Iterator[None]:
        """Install the NOTIFY trigger for this run and listen on its own connection."""
        table = GradingJob._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(NOTIFY_FUNCTION)
            cursor.execute(f"DROP TRIGGER IF EXISTS bench_grading_done ON {table}")
            cursor.execute(
                f"CREATE TRIGGER bench_grading_done AFTER UPDATE OF status ON {table} "
                "FOR EACH ROW WHEN (NEW.status IN ('done', 'failed') "
                "AND OLD.status IS DISTINCT FROM NEW.status) "
                "EXECUTE FUNCTION bench_grading_notify()"
            )
        db = connection.settings_dict
        self.listener = psycopg.connect(
            host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"],
            password=db["PASSWORD"] or None, dbname=db["NAME"], autocommit=True,
        )  # fmt: skip
        try:
            self.listener.execute(f"LISTEN {CHANNEL}")
            yield
        finally:
            self.listener.close()
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TRIGGER IF EXISTS bench_grading_done ON {table}")
                cursor.execute("DROP FUNCTION IF EXISTS bench_grading_notify()")

    def _await(self, ids: list[int], timeout: float) -> dict[int, float]:
        """Return when (``perf_counter``) each job's stored result was announced."""
        pending, seen = set(ids), {}
        deadline = time.monotonic() + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommandError("jobs did not finish in time: is a worker running?")
            for notice in self.listener.notifies(timeout=left, stop_after=1):
                now = time.perf_counter()
                job_id = int(notice.payload)
                if job_id in pending:
                    pending.discard(job_id)
                    seen[job_id] = now
        return seen

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

    def _check(self, ids: list[int]) -> None:
        rows = GradingJob.objects.filter(pk__in=ids).values_list("status", "correct", "purpose")
        for state, correct, purpose in rows:
            if state != "done" or (purpose == "answer" and correct is not True):
                raise CommandError(f"a job ended {state} (correct={correct})")

    def _on_publish(self, sender=None, body=None, **kwargs) -> None:
        """Note when the task of a job is handed to the broker."""
        if sender == "grading.tasks.run_grading_job":
            self.sent[body[1]["job_id"]] = time.perf_counter()

    def _sequential(self, organization, key, count: int) -> tuple[list[float], list[float]]:
        from_send, from_write, ids = [], [], []
        for index in range(count):
            started = time.perf_counter()
            with transaction.atomic():
                job_id = self._create(organization, key, index)
            seen = self._await([job_id], 30)[job_id]
            from_send.append((seen - self.sent[job_id]) * 1000)
            from_write.append((seen - started) * 1000)
            ids.append(job_id)
        self._check(ids)
        return from_send, from_write

    def _batch(self, organization, key, count: int) -> tuple[float, float, list[float]]:
        started = time.perf_counter()
        with transaction.atomic():
            ids = [self._create(organization, key, index) for index in range(count)]
        seen = self._await(ids, 600)
        self._check(ids)
        first_sent, last_seen = min(self.sent[job_id] for job_id in ids), max(seen.values())
        latencies = [(seen[job_id] - self.sent[job_id]) * 1000 for job_id in ids]
        return count / (last_seen - first_sent), count / (last_seen - started), latencies

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
