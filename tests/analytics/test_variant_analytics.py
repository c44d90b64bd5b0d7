"""Analytics across variants: pool members against their siblings, and the misconceptions
picked on variable questions (whose options are every candidate's own)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.authoring.publishing import challenge_set_publish
from assessments.models import Invitation, PublishedChallenge, QuestionState
from assessments.reports.analytics import set_analytics
from assessments.reports.analytics_variants import two_proportion_z
from tests.analytics.conftest import T0, Q, _question
from tests.factories import ChallengeFactory, ChallengeOptionFactory, ChallengeSetFactory

pytestmark = pytest.mark.django_db

MISCONCEPTIONS = [
    {"label": "unbiased variance", "code": "print(1)", "text": ""},
    {"label": "eval mode", "code": "print(2)", "text": ""},
    {"label": "LayerNorm", "code": "print(3)", "text": ""},
]


@pytest.fixture
def version(tenant_a):
    """Positions: a pool of two single-choice members (A, B), then a variable question."""
    organization = tenant_a.organization
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(organization=organization, navigation="free")
        for position, title in ((1, "Member A"), (2, "Member B")):
            challenge = ChallengeFactory(
                challenge_set=challenge_set, position=position, title=title, pool="norms"
            )
            ChallengeOptionFactory(challenge=challenge, text="right", is_correct=True)
            ChallengeOptionFactory(challenge=challenge, text="wrong", is_correct=False)
        variable = ChallengeFactory(
            challenge_set=challenge_set, position=3, title="Variable", kind="predict_output",
            code="print({{ a }})", variables="variables = {'a': seed % 7}",
            misconceptions=MISCONCEPTIONS,
        )  # fmt: skip
        keys = {str(variable.public_id): {"variable": True, "preview": []}}
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None, keys=keys)
    return version


def _variant() -> dict:
    options = [{"id": str(uuid.uuid4()), "text": "k", "correct": True, "label": "key"}]
    options += [
        {"id": str(uuid.uuid4()), "text": m["label"], "correct": False, "label": m["label"]}
        for m in MISCONCEPTIONS
    ]
    return {"options": options, "variables": {}, "code": "", "key": {"printed": "k"}}


def _session(version, member: int, member_correct: bool, picked: str) -> None:
    """One completed session: pool member ``member``; ``picked`` on the variable question
    (a misconception's label, or ``key``)."""
    with tenant_context(version.organization_id):
        challenges = {c.position: c for c in PublishedChallenge.objects.filter(version=version)}
        right = picked == "key"
        invitation = Invitation.objects.create(
            version=version, email=f"{uuid.uuid4().hex[:10]}@example.com",
            expires_at=T0 + timedelta(days=7), status=Invitation.Status.COMPLETED,
            started_at=T0, completed_at=T0 + timedelta(hours=1),
            score=float(member_correct + right), max_score=2.0,
        )  # fmt: skip
        answers = ("right",) if member_correct else ("wrong", "wrong")
        _question(invitation, challenges[member], Q(member_correct, answers))
        variant = _variant()
        option = next(o for o in variant["options"] if o["label"] == picked)
        question = _question(invitation, challenges[3], Q(right, (option["id"],)))
        QuestionState.objects.filter(pk=question.pk).update(variant=variant)


def _compute(version):
    with tenant_context(version.organization_id):
        return set_analytics(version.challenge_set, now=timezone.now())


def _fill(version, a_correct: int, b_correct: int, each: int = 12) -> None:
    picks = ["key", "unbiased variance", "unbiased variance", "eval mode", "LayerNorm"]
    for n in range(each):
        _session(version, 1, n < a_correct, picks[n % 5])
        _session(version, 2, n < b_correct, picks[(n + 1) % 5])


def test_two_proportion_z_by_hand():
    # 10/12 against 2/12: pooled 0.5, spread sqrt(0.25 * (2/12)) = 0.2041; gap 0.6667.
    assert two_proportion_z(10, 12, 2, 12) == pytest.approx(0.6667 / 0.2041, abs=1e-3)
    assert two_proportion_z(12, 12, 12, 12) is None and two_proportion_z(1, 0, 1, 2) is None


def test_a_pool_member_much_harder_than_its_siblings_is_flagged_with_its_figures(version):
    _fill(version, a_correct=10, b_correct=2)
    result = _compute(version)
    (pool,) = result.pools
    assert pool.name == "norms" and (pool.n, pool.correct) == (24, 12)
    by_title = {c.member.title: c for c in pool.comparisons}
    a, b = by_title["Member A"], by_title["Member B"]
    assert (a.member.n, a.member.correct, a.sibling_n, a.sibling_share) == (12, 10, 12, 2 / 12)
    assert a.z == pytest.approx(3.266, abs=1e-3) and b.z == pytest.approx(-3.266, abs=1e-3)
    (easier,) = [f for f in a.member.flags if f.code == "pool_member"]
    (harder,) = [f for f in b.member.flags if f.code == "pool_member"]
    assert easier.title == "Much easier than its pool siblings"
    assert harder.title == "Much harder than its pool siblings"
    assert "17% of 12 candidates were correct on it against 83% of 12" in harder.explanation
    assert "z = -3.27" in harder.explanation


def test_pool_members_about_as_hard_or_too_few_sessions_are_not_flagged(version):
    _fill(version, a_correct=7, b_correct=5)  # 58% against 42%: a gap under 25 points
    result = _compute(version)
    assert not [f for c in result.challenges for f in c.flags if f.code == "pool_member"]


def test_a_large_gap_on_few_sessions_is_not_flagged(version):
    _fill(version, a_correct=5, b_correct=0, each=5)  # 100% against 0%, 5 sessions each
    result = _compute(version)
    assert result.pools[0].comparisons[0].z is not None
    assert not [f for c in result.challenges for f in c.flags if f.code == "pool_member"]


def test_variable_question_counts_every_variant_and_the_misconceptions_picked(version):
    _fill(version, a_correct=6, b_correct=6)
    variable = next(c for c in _compute(version).challenges if c.title == "Variable")
    # 24 sessions, each its own variant; picks cycle key, unbiased twice, eval, LayerNorm from
    # 0 (A, by index: 3, 3, 2, 2, 2) and from 1 (B: 2,3,3,2,2).
    assert (variable.n, variable.first_answers) == (24, 24)
    counts = {o.text: o.picked for o in variable.options}
    assert counts == {
        "the key (this candidate's own)": 5,
        "misconception: unbiased variance": 11,
        "misconception: eval mode": 4,
        "misconception: LayerNorm": 4,
    }
    assert variable.correct == 5 and variable.wrong_first_answers == 19
    assert variable.wrong_options == 3
    unbiased = next(o for o in variable.options if o.text.endswith("unbiased variance"))
    assert unbiased.share_of_wrong == pytest.approx(11 / 19)
    # 58% of wrong answers on one misconception of three: the clustering flag applies as usual.
    assert "distractor" in [f.code for f in variable.flags]


def test_variant_figures_cost_one_query_more_and_the_page_shows_them(version, author_client):
    _fill(version, a_correct=10, b_correct=2, each=3)
    with CaptureQueriesContext(connection) as few:
        _compute(version)
    _fill(version, a_correct=10, b_correct=2, each=12)
    with CaptureQueriesContext(connection) as many:
        _compute(version)
    assert len(few) == len(many) == 6
    url = f"/admin/assessments/challengeset/{version.challenge_set_id}/analytics/"
    page = author_client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Pools: each member against its siblings" in body
    assert "Much harder than its pool siblings" in body
    assert "misconception: unbiased variance" in body
