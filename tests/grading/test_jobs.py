"""A job ends once: done or failed, whichever comes first, and later attempts change nothing."""

from accounts.tenancy import tenant_context
from grading.jobs import grading_job_create, grading_job_fail, grading_job_run
from grading.models import GradingJob


def test_failing_a_job_is_final_and_happens_once(tenant_a):
    with tenant_context(tenant_a.organization):
        job = grading_job_create(
            organization_id=tenant_a.organization.pk, purpose="snippet",
            answer_format="single_choice", payload={"code": "print(1)"}, enqueue=False,
        )  # fmt: skip
        failed = grading_job_fail(job_id=job.pk, error="sandbox unavailable: gone")
        assert failed.status == GradingJob.Status.FAILED
        first_finish = GradingJob.objects.get(pk=job.pk).finished_at
        again = grading_job_fail(job_id=job.pk, error="a second reason")
        assert again.last_error == "sandbox unavailable: gone"
        assert again.finished_at == first_finish


class CannedSandbox:
    """A sandbox client that answers every run with the same successful response."""

    def run(self, code, **kwargs):
        return {
            "verdict": "ok", "stdout": "tensor([1., 2.])\n", "stderr": "", "exception": None,
            "torch_version": "2.13.0", "values": {}, "wall_ms": 1.0, "cpu_ms": 1.0,
        }  # fmt: skip


def test_running_a_job_claims_and_stores_it_in_two_queries(
    tenant_a, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a.organization):
        job = grading_job_create(
            organization_id=tenant_a.organization.pk, purpose="snippet",
            answer_format="single_choice", payload={"code": "print(1)"}, enqueue=False,
            callback="assessments.tasks.key_job_done",
        )  # fmt: skip
        # Claim (UPDATE ... RETURNING the row) and store (one UPDATE): every grade pays these.
        with django_capture_on_commit_callbacks() as callbacks, django_assert_num_queries(2):
            done = grading_job_run(job_id=job.pk, client=CannedSandbox())
        assert len(callbacks) == 1  # the callback waits for the caller's commit
        assert done.status == GradingJob.Status.DONE
        assert done.deliveries == 1 and done.started_at is not None
        assert done.result["stdout"] == "tensor([1., 2.])\n"
        stored = GradingJob.objects.get(pk=job.pk)
        assert (stored.status, stored.deliveries) == (GradingJob.Status.DONE, 1)
        # A second delivery finds it finished: one UPDATE that matches nothing, one read.
        with django_assert_num_queries(2):
            again = grading_job_run(job_id=job.pk, client=CannedSandbox())
        assert again.finished_at == stored.finished_at and again.deliveries == 1
