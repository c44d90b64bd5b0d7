"""Candidate reports for members, their signed share links, and the CSV export of a set."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.models import Invitation
from assessments.reports.share_links import report_share_url
from tests.candidates.conftest import correct_option, invite, publish_set, wrong_option
from tests.conftest import login

pytestmark = pytest.mark.django_db


def _take(version, invitation):
    """A session: hint and a wrong then right answer on 1, two wrong on 2, right on 3."""
    client, base = Client(), f"/t/{invitation.token}"
    client.post(f"{base}/start/")
    client.get(f"{base}/q/1/")
    client.post(f"{base}/q/1/hint/")
    for option in (wrong_option(version, 1), correct_option(version, 1)):
        client.post(f"{base}/q/1/answer/", {"answer": option, "submission_id": uuid.uuid4()})
    client.get(f"{base}/q/2/")
    for _ in range(2):
        client.post(
            f"{base}/q/2/answer/",
            {"answer": wrong_option(version, 2), "submission_id": uuid.uuid4()},
        )
    client.get(f"{base}/q/3/")
    client.post(
        f"{base}/q/3/answer/", {"answer": "=running statistics", "submission_id": uuid.uuid4()}
    )
    client.post(
        f"{base}/q/3/answer/", {"answer": "running statistics", "submission_id": uuid.uuid4()}
    )
    invitation.refresh_from_db()
    assert invitation.status == "completed"
    return invitation


@pytest.fixture
def version(tenant_a):
    return publish_set(tenant_a.organization)


@pytest.fixture
def finished(version):
    return _take(version, invite(version))


def test_member_report_shows_score_questions_answers_signals_and_timeline(
    client, tenant_a, finished
):
    login(client, tenant_a.reviewer)
    page = client.get(f"/admin/assessments/invitation/{finished.pk}/report/").content.decode()
    assert "Score 3 of 4 (75%)" in page
    assert "It normalizes at eval time" in page  # the option text, not its id
    assert "=running statistics" in page
    assert "Hint revealed (question 1)" in page
    assert "Opened question 2" in page and "Completed the test" in page
    assert page.index("Started the test") < page.index("Completed the test")
    assert "/reports/" in page  # the share link, to copy
    assert "css/report.css" in page


def test_reports_of_another_organization_are_404(client, tenant_b, finished):
    login(client, tenant_b.owner)
    assert client.get(f"/admin/assessments/invitation/{finished.pk}/report/").status_code == 404


def test_share_link_opens_without_login_and_refuses_altered_or_expired_tokens(finished, settings):
    with tenant_context(finished.organization_id):
        url, _expires = report_share_url(finished, now=timezone.now())
    path = url.removeprefix(settings.SITE_URL)
    response = Client().get(path)
    assert response.status_code == 200 and response["X-Robots-Tag"] == "noindex, nofollow"
    assert "Score 3 of 4 (75%)" in response.content.decode()
    token = path.split("/")[2]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert Client().get(f"/reports/{tampered}/").status_code == 404
    settings.REPORT_LINK_DAYS = 0
    assert Client().get(path).status_code == 404


def test_the_api_report_url_is_the_share_link(finished, settings):
    from accounts.api_keys import api_key_create
    from tests.api.conftest import client_for

    key = api_key_create(organization=finished.organization, name="x", actor=None)[1]
    result = client_for(key).get(f"/api/v1/invitations/{finished.public_id}/result/").json()
    assert result["report_url"].startswith(f"{settings.SITE_URL}/reports/")
    page = Client().get(result["report_url"].removeprefix(settings.SITE_URL))
    assert page.status_code == 200


def test_csv_export_of_a_set(client, tenant_a, tenant_b, version, finished):
    invite(version, email="waiting@example.com")
    Invitation.all_tenants.filter(pk=finished.pk).update(first_name="=HYPERLINK(1)")
    other_set = publish_set(tenant_a.organization)
    invite(other_set, email="elsewhere@example.com")
    invite(publish_set(tenant_b.organization), email="theirs@example.com")
    login(client, tenant_a.author)
    response = client.get(
        f"/admin/assessments/invitation/export.csv?challenge_set={version.challenge_set.pk}"
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["email"] for r in rows] == ["ada@example.com", "waiting@example.com"]
    ada = rows[0]
    assert ada["first_name"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert (ada["score"], ada["max_score"], ada["percent"], ada["status"]) == (
        "3.0", "4.0", "75.0", "completed"
    )  # fmt: skip
    assert (ada["q1_verdict"], ada["q1_attempts"], ada["q1_hint"]) == ("correct", "2", "yes")
    assert (ada["q2_verdict"], ada["q2_points"]) == ("incorrect", "0.0")
    # The hint on question 1: listed under "Integrity signals" in the report, counted here.
    assert ada["q3_points"] == "2.0" and ada["integrity_signals"] == "1"
    everything = client.get("/admin/assessments/invitation/export.csv")
    body = everything.content.decode()
    assert "elsewhere@example.com" in body and "theirs@example.com" not in body
    assert client.get("/admin/assessments/invitation/export.csv?challenge_set=x").status_code == 404


def test_report_csv_and_api_count_the_same_integrity_signals(version, finished):
    from assessments.reports.results import invitation_result
    from assessments.reports.selectors import report_build, results_rows

    now = timezone.now()
    # Two more kinds besides the hint: a focus loss the page reported, a late answer.
    with tenant_context(finished.organization_id):
        for kind in ("focus_lost", "late_answer"):
            finished.signals.create(organization_id=finished.organization_id, kind=kind, at=now)
        listed = report_build(finished, now=now)["signals"]
        header, row = list(results_rows(Invitation.objects.filter(pk=finished.pk), now=now))
        api = invitation_result(finished, now=now)["integrity_signals"]
    assert sorted(s.kind for s in listed) == ["focus_lost", "hint", "late_answer"]
    assert row[header.index("integrity_signals")] == len(listed) == len(api) == 3


def test_csv_export_runs_a_constant_number_of_queries(client, tenant_a, version):
    login(client, tenant_a.author)
    url = f"/admin/assessments/invitation/export.csv?challenge_set={version.challenge_set.pk}"
    _take(version, invite(version, email="one@example.com"))

    def count():
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        return len(queries)

    count()  # the first request after signing in does the session's own work
    few = count()
    for n in range(4):
        _take(version, invite(version, email=f"more{n}@example.com"))
    assert count() == few
