"""Members follow their organization's grading jobs in the admin, read-only, payloads unseen."""

import pytest

from accounts.tenancy import tenant_context
from grading.jobs import grading_job_create, grading_job_fail
from grading.models import GradingJob
from tests.conftest import login

KEY_MARKER = "answer-key-marker-5521"


def _failed_job(tenant):
    with tenant_context(tenant.organization):
        job = grading_job_create(
            organization_id=tenant.organization.pk, purpose="answer", answer_format="code",
            payload={"answer": "x", "key": {"expected": KEY_MARKER}, "config": {}},
            enqueue=False,
        )  # fmt: skip
        return grading_job_fail(
            job_id=job.pk, error="interrupted: killed", reason=GradingJob.FailureReason.INTERRUPTED
        )


@pytest.fixture(params=["owner", "author", "reviewer"])
def member_client(request, client, tenant_a):
    return login(client, getattr(tenant_a, request.param))


def test_members_see_failed_jobs_with_their_reason_and_never_the_payload(member_client, tenant_a):
    job = _failed_job(tenant_a)
    listing = member_client.get("/admin/grading/gradingjob/?status__exact=failed")
    assert listing.status_code == 200
    assert str(job.public_id) in listing.content.decode()
    assert "Killed by a signal the job did not cause" in listing.content.decode()
    detail = member_client.get(f"/admin/grading/gradingjob/{job.pk}/change/")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "interrupted: killed" in page and KEY_MARKER not in page
    assert KEY_MARKER not in listing.content.decode()


def test_jobs_are_read_only(member_client, tenant_a):
    job = _failed_job(tenant_a)
    assert member_client.get("/admin/grading/gradingjob/add/").status_code == 403
    response = member_client.post(f"/admin/grading/gradingjob/{job.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert GradingJob.all_tenants.filter(pk=job.pk).exists()


def test_another_organizations_jobs_are_404_and_never_listed(member_client, tenant_b):
    theirs = _failed_job(tenant_b)
    assert member_client.get(f"/admin/grading/gradingjob/{theirs.pk}/change/").status_code == 404
    listing = member_client.get("/admin/grading/gradingjob/")
    assert str(theirs.public_id) not in listing.content.decode()
