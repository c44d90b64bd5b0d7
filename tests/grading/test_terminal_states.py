"""Every grading job ends, done or failed with a reason of ours, after a bounded number of runs.

The first tests run the task in this process (Celery's eager ``apply`` runs its retries
inline); the last ones use a real worker, its beat and the real sandbox.
"""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_context
from grading import jobs
from grading.jobs import grading_job_create, grading_job_run, grading_jobs_sweep
from grading.models import GradingJob
from grading.sandbox.client import SandboxUnavailable
from grading.tasks import run_grading_job
from tests.grading.test_hostile_results import BN_CONFIG, _function
from tests.grading.test_lost_jobs import _wait
from tests.processes import WorkerProcess

OK_RESPONSE = {
    "verdict": "ok", "stdout": "tensor(2.)\n", "stderr": "", "exception": None,
    "torch_version": "2.13.0", "values": {}, "wall_ms": 1.0, "cpu_ms": 1.0, "message": None,
    "sandbox_error": None, "job_id": "x",
}  # fmt: skip


class ScriptedSandbox:
    """A sandbox client answering from a script: a response dict, or an exception to raise.

    For outages and malformed responses the real sandbox does not give on demand; the real
    ``interrupted`` path (a SIGKILL from outside) is in ``test_interrupted_answers.py``.
    """

    def __init__(self, *script):
        self.script = list(script)
        self.calls = 0

    def run(self, code, **kwargs):
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(step, Exception):
            raise step
        return dict(step)


@pytest.fixture
def scripted(monkeypatch, settings):
    settings.GRADING_JOB_MAX_DELIVERIES = 3

    def install(*script):
        sandbox = ScriptedSandbox(*script)
        monkeypatch.setattr(jobs, "sandbox_client", lambda: sandbox)
        return sandbox

    return install


def _snippet_job(tenant, **kwargs):
    with tenant_context(tenant.organization):
        return grading_job_create(
            organization_id=tenant.organization.pk, purpose="snippet",
            answer_format="single_choice", payload={"code": "print(1)"}, enqueue=False,
            **kwargs,
        )  # fmt: skip


def _run_task(tenant, job):
    run_grading_job.apply(kwargs={"organization_id": tenant.organization.pk, "job_id": job.pk})
    return GradingJob.all_tenants.get(pk=job.pk)


INTERRUPTED = {**OK_RESPONSE, "verdict": "interrupted", "stdout": ""}


def test_an_interrupted_job_is_retried_transparently(tenant_a, scripted):
    sandbox = scripted(INTERRUPTED, INTERRUPTED, OK_RESPONSE)
    job = _run_task(tenant_a, _snippet_job(tenant_a))
    assert sandbox.calls == 3
    assert (job.status, job.sandbox_verdict, job.deliveries) == ("done", "ok", 3)
    assert job.result["stdout"] == "tensor(2.)\n" and job.failure_reason == ""


def test_a_job_interrupted_every_time_fails_as_ours_after_its_deliveries(tenant_a, scripted):
    sandbox = scripted(INTERRUPTED)
    job = _run_task(tenant_a, _snippet_job(tenant_a))
    assert sandbox.calls == 3
    assert (job.status, job.failure_reason, job.deliveries) == ("failed", "interrupted", 3)
    assert job.sandbox_verdict == "" and job.correct is None
    assert job.finished_at is not None


def test_an_unreachable_sandbox_fails_the_job_after_its_deliveries(tenant_a, scripted):
    scripted(SandboxUnavailable("connection refused"))
    job = _run_task(tenant_a, _snippet_job(tenant_a))
    assert (job.status, job.failure_reason, job.deliveries) == ("failed", "sandbox_unavailable", 3)
    assert "connection refused" in job.last_error


def test_a_malformed_sandbox_response_is_our_failure(tenant_a, scripted):
    scripted({**OK_RESPONSE, "verdict": "pwned"})
    job = _run_task(tenant_a, _snippet_job(tenant_a))
    assert (job.status, job.failure_reason) == ("failed", "sandbox_unavailable")


def test_an_unexpected_error_in_the_worker_fails_the_job_instead_of_leaving_it_running(
    tenant_a, scripted
):
    scripted(RuntimeError("a bug of ours"))
    job = _run_task(tenant_a, _snippet_job(tenant_a))
    assert (job.status, job.failure_reason, job.deliveries) == ("failed", "internal_error", 3)
    assert job.last_error == "unexpected error in the worker: RuntimeError"


def test_a_failed_job_sends_its_callback_once(
    tenant_a, scripted, django_capture_on_commit_callbacks
):
    scripted(INTERRUPTED)
    job = _snippet_job(tenant_a, callback="assessments.tasks.answer_graded")
    with django_capture_on_commit_callbacks() as callbacks:
        _run_task(tenant_a, job)
    assert len(callbacks) == 1


def test_a_delivery_while_another_holds_the_job_does_not_run_it_again(tenant_a, scripted):
    sandbox = scripted(OK_RESPONSE)
    job = _snippet_job(tenant_a)
    GradingJob.all_tenants.filter(pk=job.pk).update(
        status="running", claimed_at=timezone.now(), deliveries=1
    )
    job = _run_task(tenant_a, job)
    assert sandbox.calls == 0 and (job.status, job.deliveries) == ("running", 1)


def test_the_sweeper_resends_stuck_jobs_and_fails_those_out_of_deliveries_or_time(
    tenant_a, settings
):
    settings.GRADING_JOB_MAX_DELIVERIES = 3
    long_ago = timezone.now() - timedelta(seconds=settings.GRADING_JOB_STUCK_SECONDS + 5)
    lost, exhausted, ancient, held = (_snippet_job(tenant_a) for _ in range(4))
    GradingJob.all_tenants.filter(pk=lost.pk).update(requested_at=long_ago)
    GradingJob.all_tenants.filter(pk=exhausted.pk).update(
        status="running", deliveries=3, requested_at=long_ago, claimed_at=long_ago
    )
    GradingJob.all_tenants.filter(pk=ancient.pk).update(
        requested_at=timezone.now() - timedelta(seconds=settings.GRADING_JOB_GIVE_UP_SECONDS + 1)
    )
    GradingJob.all_tenants.filter(pk=held.pk).update(
        status="running", deliveries=1, requested_at=long_ago, claimed_at=timezone.now()
    )
    sent = []
    jobs_send = jobs.grading_job_send
    try:
        jobs.grading_job_send = lambda **kwargs: sent.append(kwargs["job_id"])
        counts = grading_jobs_sweep(now=timezone.now())
    finally:
        jobs.grading_job_send = jobs_send
    assert counts == {"resent": 1, "failed": 2} and sent == [lost.pk]
    statuses = dict(
        GradingJob.all_tenants.filter(pk__in=[lost.pk, exhausted.pk, ancient.pk, held.pk])
        .values_list("pk", "failure_reason")
    )  # fmt: skip
    assert statuses == {
        lost.pk: "",
        exhausted.pk: "delivery_limit",
        ancient.pk: "expired",
        held.pk: "",
    }


# --- with a real worker -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_ends_hostile_answers_and_poison_jobs_and_the_sweeper_stops_resending(
    tenant_a, sandbox_socket, private_broker, tmp_path
):
    with tenant_context(tenant_a.organization):
        reference = grading_job_create(
            organization_id=tenant_a.organization.pk, purpose="reference",
            answer_format="code", payload={"config": BN_CONFIG}, enqueue=False,
        )  # fmt: skip
        key = {"expected": grading_job_run(job_id=reference.pk).result["expected"]}
        # enqueue=False: the sweeper in the worker's beat sends every job, as it recovers
        # lost messages (this process does not talk to the private broker).
        hostile = [
            grading_job_create(
                organization_id=tenant_a.organization.pk,
                purpose="answer",
                answer_format="code",
                enqueue=False,
                payload={"answer": _function([body]), "config": BN_CONFIG, "key": key},
            )
            for body in ('return {"type": "tensor", "shape": 5, "data": 1}', "return 10**400")
        ]
        # A job whose work raises in the worker every time (an unknown answer format).
        poison = grading_job_create(
            organization_id=tenant_a.organization.pk, purpose="answer", answer_format="nope",
            payload={"answer": "x", "config": {}, "key": {}}, enqueue=False,
        )  # fmt: skip
    worker = WorkerProcess(
        queues="grading,default", concurrency=2, beat=True, name="terminal",
        TEST_BROKER_URL=private_broker.url, SANDBOX_SOCKET=sandbox_socket,
        GRADING_JOB_STUCK_SECONDS="2", GRADING_SWEEP_SECONDS="1",
        GRADING_JOB_MAX_DELIVERIES="3",
    ).start(tmp_path / "terminal.log")  # fmt: skip
    ids = [poison.pk] + [job.pk for job in hostile]
    try:
        worker.wait_ready()
        _wait(
            lambda: set(
                GradingJob.all_tenants.filter(pk__in=ids).values_list("status", flat=True)
            ) <= {"done", "failed"},
            90, worker.log,
        )  # fmt: skip
        time.sleep(3)  # a few more sweeps: nothing finished is sent or changed again
    finally:
        worker.stop()
    finished = {job.pk: job for job in GradingJob.all_tenants.filter(pk__in=ids)}
    for job in hostile:
        stored = finished[job.pk]
        assert (stored.status, stored.correct) == ("done", False), stored.last_error
        assert stored.deliveries <= 2
    poisoned = finished[poison.pk]
    assert (poisoned.status, poisoned.failure_reason) == ("failed", "internal_error")
    assert poisoned.deliveries == 3
