"""A candidate's code answer whose sandbox process is killed from outside (the OOM killer, an
operator): the job is retried and the candidate keeps every attempt and every second.

Driven through the real path: the candidate's answer (``answer_submit`` or the question's
page), a ``GradingJob`` run by the real task against the real sandbox, and a SIGKILL sent
from this test to the sandbox process that runs the candidate's code.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.models import Answer, Invitation, QuestionState
from assessments.taking.answering import answer_graded, answer_submit
from assessments.taking.session import question_open, session_questions, session_start, session_sync
from assessments.tasks import sweep_sessions
from grading.jobs import grading_job_fail, grading_job_run
from grading.models import GradingJob
from grading.tasks import run_grading_job
from tests.candidates.conftest import invite
from tests.candidates.test_worker_path import _code_set, _wait_graded

# The candidate's module keeps the CPU busy for a second before defining the function, so
# the test can tell the process running it from the sandbox's idle pre-forked children.
BUSY_CORRECT = """\
import time
import torch
_until = time.monotonic() + 1.5
while time.monotonic() < _until:
    pass
def batch_norm(x, eps=1e-5):
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps)
"""
CORRECT_NOW = BUSY_CORRECT.replace("+ 1.5", "+ 0.0")
# CPU seconds after which a sandbox child is running a job (set-up takes a few ms).
BUSY_CPU_SECONDS = 0.1
TICKS = os.sysconf("SC_CLK_TCK")


def _sid(number: int) -> str:
    return str(uuid.UUID(int=number))


def _server_pid(socket_path: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"grading.sandbox.server" in argv and socket_path.encode() in argv:
                return int(entry.name)
    raise AssertionError(f"no sandbox server serves {socket_path}")


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(child) for child in task.read_text().split()]
            except OSError:
                continue
            found += children
            queue += children
    return found


def _busy_job_processes(server_pid: int) -> list[int]:
    """Pids of this sandbox's job children (an unprivileged uid) that are running code."""
    busy = []
    for pid in _descendants(server_pid):  # a few processes: scanned many times a second
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        uid = int(fields["Uid"].split()[0])
        after_name = stat.rsplit(")", 1)[1].split()
        cpu = (int(after_name[11]) + int(after_name[12])) / TICKS  # utime + stime
        if uid not in (0, 65534) and cpu >= BUSY_CPU_SECONDS:
            busy.append(pid)
    return busy


class Killer:
    """SIGKILL, from outside, the first ``times`` job processes seen running code (or all)."""

    def __init__(self, socket_path: str, *, times: float = float("inf")):
        self.server_pid = _server_pid(socket_path)
        self.times = times
        self.killed: list[int] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Killer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.thread.join(5)

    def _run(self) -> None:
        while not self.stopping.is_set() and len(self.killed) < self.times:
            for pid in _busy_job_processes(self.server_pid):
                if pid not in self.killed and len(self.killed) < self.times:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                    self.killed.append(pid)
            time.sleep(0.01)


def _open_session(tenant):
    invitation = invite(_code_set(tenant.organization))
    now = timezone.now()
    with tenant_context(invitation.organization_id):
        invitation = session_start(invitation, now=now)
        question_open(invitation, session_questions(invitation), 1, now=now)
    return invitation


def _question(invitation) -> QuestionState:
    return QuestionState.all_tenants.get(invitation=invitation, position=1)


@pytest.mark.django_db(transaction=True)
def test_a_job_killed_from_outside_once_is_retried_and_the_candidate_sees_the_verdict(
    tenant_a, celery_worker, sandbox_socket
):
    version = _code_set(tenant_a.organization)
    invitation = invite(version)
    client = Client()
    base = f"/t/{invitation.token}"
    client.post(f"{base}/start/")
    client.get(f"{base}/q/1/")
    with Killer(sandbox_socket, times=1) as killer:
        response = client.post(
            f"{base}/q/1/answer/", {"answer": BUSY_CORRECT, "submission_id": uuid.uuid4()}
        )
        assert response.status_code == 302
        # The answer must be accepted (pending) before its verdict is awaited; a refusal
        # names itself on the page it redirects to.
        answers = Answer.all_tenants.filter(question__invitation=invitation)
        assert answers.exists(), client.get(response["Location"]).content.decode()[-3000:]
        deadline = time.monotonic() + 90
        while answers.filter(status=Answer.Status.PENDING).exists():
            assert time.monotonic() < deadline, celery_worker.log()
            time.sleep(0.2)
        state = _wait_graded(client, base, timeout=30)
    assert len(killer.killed) == 1, celery_worker.log()
    answer = Answer.all_tenants.select_related("grading_job").get(question__invitation=invitation)
    job = answer.grading_job
    # The first delivery was interrupted (ours), the second one graded the real answer.
    assert (job.status, job.deliveries, job.correct) == ("done", 2, True), job.last_error
    assert "interrupted" in job.last_error
    assert (answer.status, answer.attempt, answer.correct) == ("graded", 1, True)
    assert state["last_answer"]["correct"] is True
    assert "3 of 3 tests passed. Hidden tests: 1 of 1." in state["last_answer"]["feedback"]
    assert _question(invitation).attempts_used == 1  # the interruption used none


@pytest.mark.django_db
def test_a_job_killed_every_time_fails_as_ours_and_gives_the_attempt_back(
    tenant_a, sandbox_socket, settings
):
    settings.GRADING_JOB_MAX_DELIVERIES = 3
    invitation = _open_session(tenant_a)
    with tenant_context(invitation.organization_id):
        submitted = answer_submit(
            invitation, position=1, raw=BUSY_CORRECT, submission_id=_sid(1), now=timezone.now()
        )
        assert _question(invitation).pending
        job = submitted.answer.grading_job
        # The task as a worker runs it (its retries run inline here); every run is killed.
        with Killer(sandbox_socket) as killer:
            run_grading_job.apply(
                kwargs={"organization_id": invitation.organization_id, "job_id": job.pk}
            )
        job = GradingJob.objects.get(pk=job.pk)
        assert len(killer.killed) >= 3  # a run of each delivery, at least
        assert (job.status, job.failure_reason, job.deliveries) == ("failed", "interrupted", 3)
        answer = answer_graded(job_id=job.pk, now=timezone.now())  # the job's callback
    assert (answer.status, answer.attempt) == ("failed", None)
    assert "did not use an attempt" in answer.feedback
    question = _question(invitation)
    assert (question.attempts_used, question.pending, question.closed_at) == (0, False, None)
    with tenant_context(invitation.organization_id):
        again = answer_submit(
            invitation, position=1, raw=BUSY_CORRECT, submission_id=_sid(2), now=timezone.now()
        )
    assert again.created and again.answer.attempt == 1


@pytest.mark.django_db
def test_our_failure_gives_back_the_time_the_answer_waited_and_reopens_the_question(
    tenant_a, sandbox_socket
):
    invitation = _open_session(tenant_a)
    start = timezone.now()
    Invitation.all_tenants.filter(pk=invitation.pk).update(deadline=start + timedelta(seconds=600))
    QuestionState.all_tenants.filter(pk=_question(invitation).pk).update(
        deadline=start + timedelta(seconds=60)
    )
    invitation.refresh_from_db()
    # Graded only after the question's time ran out: the clock closed it meanwhile.
    closed_at = start + timedelta(seconds=200)
    with tenant_context(invitation.organization_id):
        answer_submit(invitation, position=1, raw=BUSY_CORRECT, submission_id=_sid(0), now=start)
        first = Answer.objects.get(submission_id=_sid(0))
        grading_job_fail(job_id=first.grading_job_id, error="down", reason="sandbox_unavailable")
        answer_graded(job_id=first.grading_job_id, now=start + timedelta(seconds=10))
    question = _question(invitation)
    assert question.deadline == start + timedelta(seconds=70)  # the 10 s it waited

    submitted_at = start + timedelta(seconds=20)
    with tenant_context(invitation.organization_id):
        answer_submit(
            invitation, position=1, raw=BUSY_CORRECT, submission_id=_sid(1), now=submitted_at
        )
        session_sync(Invitation.objects.get(pk=invitation.pk), now=closed_at)
    question = _question(invitation)
    assert (question.closed_reason, question.pending) == ("time", True)
    failed_at = start + timedelta(seconds=320)
    with tenant_context(invitation.organization_id):
        job_id = Answer.objects.get(submission_id=_sid(1)).grading_job_id
        grading_job_fail(job_id=job_id, error="down", reason="sandbox_unavailable")
        answer = answer_graded(job_id=job_id, now=failed_at)
    assert (answer.status, answer.attempt) == ("failed", None)
    question = _question(invitation)
    waited = failed_at - submitted_at  # 300 s
    assert question.deadline == start + timedelta(seconds=70) + waited
    assert (question.closed_at, question.closed_reason, question.pending) == (None, "", False)
    invitation.refresh_from_db()
    assert invitation.deadline == start + timedelta(seconds=610) + waited
    assert invitation.status == "started"
    # The candidate answers again within the time given back, and it counts as an attempt.
    with tenant_context(invitation.organization_id):
        again = answer_submit(
            invitation, position=1, raw=BUSY_CORRECT, submission_id=_sid(2),
            now=failed_at + timedelta(seconds=5),
        )  # fmt: skip
    assert again.created and again.answer.status == "pending" and again.answer.attempt == 1


@pytest.mark.django_db
def test_no_time_is_given_back_once_the_session_is_over(tenant_a, sandbox_socket):
    invitation = _open_session(tenant_a)
    start = timezone.now()
    with tenant_context(invitation.organization_id):
        answer_submit(invitation, position=1, raw=BUSY_CORRECT, submission_id=_sid(1), now=start)
    deadline = _question(invitation).deadline
    # The candidate ended the test while the answer was pending.
    Invitation.all_tenants.filter(pk=invitation.pk).update(status="completed")
    with tenant_context(invitation.organization_id):
        job_id = Answer.objects.get(submission_id=_sid(1)).grading_job_id
        grading_job_fail(job_id=job_id, error="down", reason="sandbox_unavailable")
        answer = answer_graded(job_id=job_id, now=start + timedelta(seconds=30))
    assert answer.status == "failed"
    assert _question(invitation).deadline == deadline


@pytest.mark.django_db
@pytest.mark.parametrize(
    "source",
    ["x = " + "1 + " * 12_000 + "1\n", "x = " + "-" * 40_000 + "1\n", "f" + "()" * 20_000 + "\n"],
    ids=["long sum", "unary minus", "calls"],
)
def test_code_too_deep_for_the_parser_is_a_clear_refusal_not_an_error(
    tenant_a, sandbox_socket, source
):
    # Python's parser raises RecursionError or MemoryError on these, not SyntaxError.
    invitation = _open_session(tenant_a)
    client = Client()
    response = client.post(
        f"/t/{invitation.token}/q/1/answer/",
        {"answer": source, "submission_id": uuid.uuid4()},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"] == "The code is nested too deeply to be read."
    question = _question(invitation)
    assert (question.attempts_used, question.pending) == (0, False)


@pytest.mark.django_db
def test_a_verdict_whose_callback_was_lost_is_applied_by_the_sweeper(tenant_a, sandbox_socket):
    # In this (non-transactional) test nothing is sent on commit: the job runs and its
    # verdict is stored, but its callback never reaches a worker, as when a broker loses it.
    invitation = _open_session(tenant_a)
    with tenant_context(invitation.organization_id):
        submitted = answer_submit(
            invitation, position=1, raw=CORRECT_NOW, submission_id=_sid(1), now=timezone.now()
        )
        job = grading_job_run(job_id=submitted.answer.grading_job_id)
    assert job.status == "done" and job.correct
    assert sweep_sessions() == {"expired": 0, "completed": 0}  # within the callback's grace
    assert _question(invitation).pending
    GradingJob.all_tenants.filter(pk=job.pk).update(
        finished_at=timezone.now() - timedelta(minutes=5)
    )
    sweep_sessions()
    answer = Answer.all_tenants.get(pk=submitted.answer.pk)
    assert (answer.status, answer.correct, answer.attempt) == ("graded", True, 1)
    question = _question(invitation)
    assert (question.pending, question.closed_reason) == (False, "correct")
    invitation.refresh_from_db()
    assert invitation.status == "completed"  # its only question is done
