"""A job ends once: done or failed, whichever comes first, and later attempts change nothing."""

from accounts.tenancy import tenant_context
from grading.jobs import grading_job_create, grading_job_fail
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
