"""No grading job is lost or graded twice: not when a worker is killed, not when the broker
restarts and forgets every queued message.

The database is the source of truth: a job row is written before its message is sent, the
task is acknowledged late, and a periodic sweeper re-sends jobs that stay unfinished. A
trigger counts, at the database itself, how many times each job's result is stored.
"""

import os
import signal
import time

import pytest
from django.db import connection

from accounts.tenancy import tenant_context
from grading.jobs import grading_job_create
from grading.models import GradingJob
from tests.processes import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

SLOW_SNIPPET = "import time, torch\ntime.sleep(0.3)\nprint(torch.ones(2).sum())"


@pytest.fixture
def result_writes():
    """Count result stores per job with a trigger (independent of the application code)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TABLE IF NOT EXISTS test_result_writes (job_id bigint, at timestamptz);
            TRUNCATE test_result_writes;
            CREATE OR REPLACE FUNCTION test_count_result_write() RETURNS trigger AS $$
            BEGIN
              IF NEW.status = 'done' AND OLD.status IS DISTINCT FROM 'done' THEN
                INSERT INTO test_result_writes VALUES (NEW.id, now());
              END IF;
              IF OLD.status = 'done' AND NEW.result IS DISTINCT FROM OLD.result THEN
                INSERT INTO test_result_writes VALUES (NEW.id, now());
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS test_count_result_write ON grading_gradingjob;
            CREATE TRIGGER test_count_result_write AFTER UPDATE ON grading_gradingjob
              FOR EACH ROW EXECUTE FUNCTION test_count_result_write();
            """
        )

    def counts():
        with connection.cursor() as cursor:
            cursor.execute("SELECT job_id, count(*) FROM test_result_writes GROUP BY job_id")
            return dict(cursor.fetchall())

    yield counts
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS test_count_result_write ON grading_gradingjob")


def _worker(broker, sandbox_socket, tmp_path, name):
    return WorkerProcess(
        queues="grading,default",
        concurrency=2,
        beat=True,
        name=name,
        TEST_BROKER_URL=broker.url,
        SANDBOX_SOCKET=sandbox_socket,
        GRADING_JOB_STUCK_SECONDS="4",
        GRADING_SWEEP_SECONDS="2",
    ).start(tmp_path / f"{name}.log")


def _create_jobs(tenant, count):
    # enqueue=False: the test process does not talk to the private broker; the sweeper in
    # the worker's beat sends what is unfinished, exactly as it recovers lost messages.
    with tenant_context(tenant.organization):
        return [
            grading_job_create(
                organization_id=tenant.organization.pk, purpose="snippet",
                answer_format="single_choice", payload={"code": SLOW_SNIPPET}, enqueue=False,
            ).pk
            for _ in range(count)
        ]  # fmt: skip


def _wait(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(message())


def _statuses(ids):
    return dict(GradingJob.all_tenants.filter(pk__in=ids).values_list("pk", "status"))


def _assert_all_graded_once(ids, result_writes):
    jobs = GradingJob.all_tenants.filter(pk__in=ids)
    assert {job.status for job in jobs} == {"done"}
    assert {job.result["stdout"] for job in jobs} == {"tensor(2.)\n"}
    writes = result_writes()
    assert writes == dict.fromkeys(ids, 1), writes


def test_killing_a_worker_mid_batch_loses_no_job_and_grades_each_once(
    tenant_a, sandbox_socket, private_broker, result_writes, tmp_path
):
    ids = _create_jobs(tenant_a, 12)
    first = _worker(private_broker, sandbox_socket, tmp_path, "doomed")
    first.wait_ready()
    _wait(
        lambda: list(_statuses(ids).values()).count("done") >= 2,
        60,
        lambda: f"nothing graded: {_statuses(ids)}\n{first.log()}",
    )
    os.killpg(first.process.pid, signal.SIGKILL)  # the worker and its pool, mid-job
    first.process.wait()
    assert "running" in _statuses(ids).values() or "queued" in _statuses(ids).values()
    second = _worker(private_broker, sandbox_socket, tmp_path, "survivor")
    try:
        second.wait_ready()
        _wait(
            lambda: set(_statuses(ids).values()) == {"done"},
            90,
            lambda: f"unfinished: {_statuses(ids)}\n{second.log()}",
        )
    finally:
        second.stop()
    _assert_all_graded_once(ids, result_writes)


def test_broker_restart_mid_batch_loses_no_job(
    tenant_a, sandbox_socket, private_broker, result_writes, tmp_path
):
    ids = _create_jobs(tenant_a, 12)
    worker = _worker(private_broker, sandbox_socket, tmp_path, "steady")
    try:
        worker.wait_ready()
        _wait(
            lambda: "done" in _statuses(ids).values(),
            60,
            lambda: f"nothing graded: {_statuses(ids)}\n{worker.log()}",
        )
        private_broker.stop()  # every queued message is gone
        time.sleep(1)
        private_broker.start()
        _wait(
            lambda: set(_statuses(ids).values()) == {"done"},
            120,
            lambda: f"unfinished: {_statuses(ids)}\n{worker.log()}",
        )
    finally:
        worker.stop()
    _assert_all_graded_once(ids, result_writes)
