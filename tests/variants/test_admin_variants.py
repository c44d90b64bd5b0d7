"""The admin's side-by-side preview of variants: a version's kept variants, a draft's drawn
on the workers, and what another organization or another set's jobs cannot show."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.tenancy import tenant_context
from grading.jobs import grading_job_run, sandbox_client
from grading.models import GradingJob
from tests.conftest import login
from tests.variants.test_variable_questions import _check, _variable_set

pytestmark = pytest.mark.django_db


def _url(challenge_set, suffix="") -> str:
    return f"/admin/assessments/challengeset/{challenge_set.pk}/variants/{suffix}"


def _cards(body: str) -> list[str]:
    return re.findall(r'<article class="variant-card".*?</article>', body, re.S)


def test_published_set_shows_its_kept_variants_side_by_side(tenant_a, settings, sandbox_socket):
    settings.VARIANT_PUBLISH_SAMPLE_SIZE = 8
    check = _check(_variable_set(tenant_a.organization))
    assert check.version is not None, check.problems
    challenge_set = check.challenge_set
    client = login(Client(), tenant_a.reviewer)
    setpage = login(Client(), tenant_a.author).get(
        f"/admin/assessments/challengeset/{challenge_set.pk}/change/"
    )
    assert _url(challenge_set) in setpage.content.decode()  # the link on the set's page
    page = client.get(_url(challenge_set))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Kept with published version 1" in body
    assert "Draw variants of the draft" not in body  # a reviewer cannot draw
    cards = _cards(body)
    assert len(cards) == 6  # PREVIEW_VARIANTS of the 8 drawn
    with tenant_context(tenant_a.organization):
        preview = check.version.challenges.get(position=1).key["preview"]
    for card, variant in zip(cards, preview, strict=True):
        a = variant["variables"]["a"]
        assert f"a = {a}" in card and f"print({a} * 3)" in card
        assert f"{a * 3}" in re.search(r'<pre class="variant-executed">(.*?)</pre>', card).group(1)
        key = re.search(r'<li class="is-key">.*?<pre>(.*?)</pre>', card, re.S).group(1)
        assert key == str(a * 3)
        assert "misconception: SECRET-LABEL-PLUS" in card and f"{a}{a}" in card


def test_a_draft_draws_fresh_variants_on_the_workers(tenant_a, tenant_b, sandbox_socket):
    challenge_set = _variable_set(tenant_a.organization)
    client = login(Client(), tenant_a.author)
    empty = client.get(_url(challenge_set)).content.decode()
    assert "Not published yet" in empty and "Draw variants of the draft" in empty
    drawn = client.post(_url(challenge_set, "draw/"))
    assert drawn.status_code == 302 and "?draws=" in drawn["Location"]
    with tenant_context(tenant_a.organization):
        (job,) = GradingJob.objects.filter(purpose=GradingJob.Purpose.VARIANT)
    assert len(job.payload["seeds"]) == 6
    waiting = client.get(drawn["Location"])
    assert waiting.status_code == 200 and 'http-equiv="refresh"' in waiting.content.decode()
    with tenant_context(tenant_a.organization):
        grading_job_run(job_id=job.pk, client=sandbox_client())
    body = client.get(drawn["Location"]).content.decode()
    assert "Drawn from the draft" in body and 'http-equiv="refresh"' not in body
    cards = _cards(body)
    assert len(cards) == 6
    values = {re.search(r"a = (\d+)", card).group(1) for card in cards}
    assert len(values) > 1  # fresh seeds, different numbers
    # Another organization: the set is a 404, and its jobs never show on its own set.
    outsider = login(Client(), tenant_b.owner)
    assert outsider.get(drawn["Location"]).status_code == 404
    assert outsider.post(_url(challenge_set, "draw/")).status_code == 404
    other_set = _variable_set(tenant_b.organization)
    query = drawn["Location"].split("?", 1)[1]
    foreign = outsider.get(f"{_url(other_set)}?{query}").content.decode()
    assert _cards(foreign) == [] and "Drawn from the draft" not in foreign
    # A mangled address shows nothing drawn, never an error.
    assert client.get(f"{_url(challenge_set)}?draws=not-a-uuid,,").status_code == 200
