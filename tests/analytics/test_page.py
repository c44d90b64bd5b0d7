"""The analytics page of a set in the admin: members read it, other organizations get 404."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.analytics.conftest import Q, publish_analytics_set, session
from tests.analytics.test_analytics import Q1, Q2, Q3, Q4
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(tenant_a):
    return publish_analytics_set(tenant_a.organization)


def _url(version, query=""):
    return f"/admin/assessments/challengeset/{version.challenge_set_id}/analytics/{query}"


def _sessions(version, count):
    for n in range(count):
        session(version, {1: Q1[n % 10], 2: Q2[n % 10], 3: Q3[n % 10], 4: Q4})


def test_a_reviewer_reads_figures_charts_and_flags(client, tenant_a, version):
    _sessions(version, 10)
    login(client, tenant_a.reviewer)
    response = client.get(_url(version))
    assert response.status_code == 200
    page = response.content.decode()
    assert "10 completed sessions over all versions" in page
    assert "css/analytics.css" in page
    assert page.count("<h1") == 1  # the title once, not the admin's heading and the page's
    # The table: Q1's figures as the computation tests derive them.
    assert "55% (33%\u201393%)" in page  # median (p25 to p75) of time used against the limit
    assert '0.67 <span class="count">(67% \u2013 0%)' in page  # D (upper, lower)
    # Flags, named and explained, and the thresholds they use.
    assert "Wrong answers cluster on one option" in page
    assert "“B” drew 89% of the 9 wrong first answers" in page
    assert "Most candidates run out of time" in page
    assert "Nearly everybody answers correctly" in page
    assert "at least 50% of those who opened it" in page
    # Charts drawn here, accessible, with nothing fetched from elsewhere.
    assert page.count('role="img"') == 3 + 3  # overview, and options of the 3 choice challenges
    assert '<title id="chart-time-title">' in page
    assert 'aria-labelledby="chart-correct-title chart-correct-desc"' in page
    assert "<script src" not in page.split('id="content"')[1]
    assert "cdn" not in page.lower()


def test_another_organizations_set_is_404(client, tenant_b, version):
    _sessions(version, 2)
    login(client, tenant_b.owner)
    assert client.get(_url(version)).status_code == 404


def test_a_missing_set_or_version_is_404(client, tenant_a, version):
    login(client, tenant_a.author)
    assert client.get("/admin/assessments/challengeset/999999/analytics/").status_code == 404
    assert client.get(_url(version, "?version=7")).status_code == 404
    assert client.get(_url(version, "?version=x")).status_code == 404


def test_empty_state_when_nobody_finished(client, tenant_a, version):
    session(version, {1: Q4, 2: Q4, 3: Q(), 4: Q4}, status="started")
    login(client, tenant_a.reviewer)
    page = client.get(_url(version)).content.decode()
    assert "Nobody has finished yet" in page
    assert 'role="img"' not in page


def test_filter_by_version(client, tenant_a, version):
    _sessions(version, 3)
    login(client, tenant_a.reviewer)
    page = client.get(_url(version, "?version=1")).content.decode()
    assert "3 completed sessions of version 1." in page
    assert '<option value="1" selected>version 1 (3 completed sessions)</option>' in page


def test_the_set_links_to_its_analytics(client, tenant_a, version):
    login(client, tenant_a.reviewer)
    page = client.get(f"/admin/assessments/challengeset/{version.challenge_set_id}/change/")
    assert _url(version) in page.content.decode()


def test_the_page_costs_the_same_queries_for_many_sessions(client, tenant_a, version):
    login(client, tenant_a.reviewer)
    _sessions(version, 3)
    client.get(_url(version))  # the first request of a login writes its session
    with CaptureQueriesContext(connection) as few:
        assert client.get(_url(version)).status_code == 200
    _sessions(version, 30)
    with CaptureQueriesContext(connection) as many:
        assert client.get(_url(version)).status_code == 200
    assert len(many) == len(few)
