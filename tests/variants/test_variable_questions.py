"""Variable questions: what publishing refuses, what never reaches a candidate, and pools."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from accounts.tenancy import tenant_context
from assessments.authoring.key_checks import key_check_run_inline, key_check_start
from assessments.authoring.models import KeyCheck
from assessments.authoring.publishing import challenge_set_publish
from assessments.taking.models import QuestionState
from assessments.taking.variants import pool_choice, variant_seed
from grading.jobs import sandbox_client
from grading.variants import draw_seed
from tests.candidates.conftest import invite
from tests.factories import ChallengeFactory, ChallengeSetFactory, challenge_with_options
from tests.variants.conftest import prepare_variants

pytestmark = pytest.mark.django_db

GENERATOR = (
    "import random\nrng = random.Random(seed)\n"
    "variables = {'a': rng.randint(10**6, 10**7), 'note': 'SECRET-NOTE'}\n"
)
MISCONCEPTIONS = [
    {"label": "SECRET-LABEL-PLUS", "code": "print({{ a }} + 3)", "text": ""},
    {"label": "SECRET-LABEL-TEXT", "code": "", "text": "{{ a }}{{ a }}"},
]


def _variable_set(organization, **challenge):
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(organization=organization, navigation="free")
        fields = {
            "kind": "predict_output", "code": "print({{ a }} * 3)", "variables": GENERATOR,
            "misconceptions": MISCONCEPTIONS, "explanation": "Because {{ note }}: times 3.",
            "hint": "Multiply.", **challenge,
        }  # fmt: skip
        ChallengeFactory(challenge_set=challenge_set, position=1, **fields)
        challenge_with_options(challenge_set, position=2)
    return challenge_set


def _check(challenge_set) -> KeyCheck:
    with tenant_context(challenge_set.organization_id):
        check = key_check_start(
            challenge_set=challenge_set, purpose=KeyCheck.Purpose.PUBLISH, actor=None,
            enqueue=False,
        )  # fmt: skip
        return key_check_run_inline(key_check=check, client=sandbox_client())


@pytest.fixture
def small_sample(settings, sandbox_socket):
    settings.VARIANT_PUBLISH_SAMPLE_SIZE = 4


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"variables": "raise ValueError('broken generator')"}, "the generator failed"),
        ({"variables": "variables = {'a': float('nan')}"}, "not plain data"),
        ({"variables": "import torch\nvariables = {'a': torch.ones(2)}"}, "not plain data"),
        ({"code": "print({{ b }})"}, "names no variable"),
        ({"code": "raise RuntimeError('x')"}, "must run to completion"),
        ({"variables": "variables = {'a': 5, 'note': ''}"}, "the variables never change"),
        (
            {"misconceptions": [{"label": "same", "code": "print({{ a }} * 3)", "text": ""}]},
            "collided",
        ),
    ],
)
def test_publishing_refuses_a_variable_question_whose_sample_fails(
    tenant_a, small_sample, fields, expected
):
    check = _check(_variable_set(tenant_a.organization, **fields))
    assert check.status == KeyCheck.Status.REFUSED
    assert expected in "\n".join(check.problems), check.problems
    assert check.version is None


def test_published_variable_question_keeps_a_preview_of_executed_variants(tenant_a, small_sample):
    check = _check(_variable_set(tenant_a.organization))
    assert check.status == KeyCheck.Status.PASSED, check.problems
    with tenant_context(tenant_a.organization):
        frozen = check.version.challenges.get(position=1)
    assert frozen.options == [] and frozen.key["variable"] is True
    for variant in frozen.key["preview"]:
        a = variant["variables"]["a"]
        assert variant["code"] == f"print({a} * 3)"
        assert variant["key"] == {"printed": f"{a * 3}\n"}
        texts = {o["text"]: o["correct"] for o in variant["options"]}
        assert texts == {str(a * 3): True, str(a + 3): False, f"{a}{a}": False}


def test_no_seed_label_or_other_candidates_variant_reaches_a_candidate(tenant_a, small_sample):
    version = _check(_variable_set(tenant_a.organization)).version
    ada, bob = invite(version, email="ada@example.com"), invite(version, email="bob@example.com")
    client, base = Client(), f"/t/{ada.token}"
    seen = [client.get(f"{base}/?seed=1").content.decode()]
    # Nothing the candidate sends enters the seed.
    seen.append(client.post(f"{base}/start/", {"seed": "1", "variant": "0"}).content.decode())
    Client().post(f"/t/{bob.token}/start/")
    prepare_variants(ada), prepare_variants(bob)
    with tenant_context(tenant_a.organization):
        mine = QuestionState.objects.get(invitation=ada, position=1)
        theirs = QuestionState.objects.get(invitation=bob, position=1)
        assert mine.variant_seed == variant_seed(ada, mine.challenge)
    markers = {
        "seed": mine.variant_seed,
        "draw seed": str(draw_seed(mine.variant_seed, mine.variant["draw"])),
        "label": "SECRET-LABEL",
        "note": "SECRET-NOTE",
        "other candidate's code": theirs.variant["code"],
        "other candidate's key": str(theirs.variant["variables"]["a"] * 3),
    }
    page = client.get(f"{base}/q/1/?seed=2").content.decode()
    seen += [page, client.get(f"{base}/q/1/state/").content.decode()]
    assert str(mine.variant["variables"]["a"]) in page  # the candidate's own numbers
    leaks = [name for name, marker in markers.items() for body in seen if marker in body]
    assert not leaks, leaks
    # Once the question is closed (the default rule: both attempts wrong) the explanation
    # (the candidate's own) is shown, still no seed.
    for wrong in [o["id"] for o in mine.variant["options"] if not o["correct"]]:
        client.post(f"{base}/q/1/answer/", {"answer": wrong, "submission_id": uuid.uuid4()})
    after = client.get(f"{base}/q/1/").content.decode()
    assert "SECRET-NOTE" in after
    for name in ("seed", "draw seed", "label", "other candidate's code"):
        assert markers[name] not in after, name


def test_a_pool_position_draws_one_member_per_candidate(tenant_a):
    organization = tenant_a.organization
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(organization=organization)
        members = [
            challenge_with_options(challenge_set, position=n, pool="warm-up", title=f"Pool {n}")
            for n in (1, 2)
        ]
        challenge_with_options(challenge_set, position=3, title="Fixed")
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None)
    drawn = set()
    for n in range(12):
        invitation = invite(version, email=f"c{n}@example.com")
        Client().post(f"/t/{invitation.token}/start/")
        with tenant_context(organization):
            questions = list(QuestionState.objects.filter(invitation=invitation))
            first = next(q for q in questions if q.position == 1)
            assert [q.challenge.title for q in questions if q.position == 2] == ["Fixed"]
            pool = list(version.challenges.filter(pool="warm-up").order_by("position"))
            assert pool_choice(invitation, "warm-up", pool) == first.challenge  # stable
        assert len(questions) == 2
        drawn.add(first.challenge.title)
    assert drawn == {m.title for m in members}


def test_a_variant_that_cannot_be_prepared_voids_the_question_not_the_candidate(tenant_a):
    from django.utils import timezone

    from assessments.taking.variants import variant_store
    from grading.jobs import grading_job_fail

    organization = tenant_a.organization
    with tenant_context(organization):
        challenge_set = _variable_set(organization)
        keys = {str(challenge_set.challenges.get(position=1).public_id): {"variable": True}}
        version, _ = challenge_set_publish(challenge_set=challenge_set, actor=None, keys=keys)
    invitation = invite(version)
    client = Client()
    client.post(f"/t/{invitation.token}/start/")
    page = client.get(f"/t/{invitation.token}/q/1/")
    assert page.status_code == 503 and page["Refresh"] == "2"
    with tenant_context(organization):
        question = QuestionState.objects.get(invitation=invitation, position=1)
        # The sandbox stayed down: the job's deliveries ran out (the sweeper's verdict).
        grading_job_fail(job_id=question.variant_job_id, error="sandbox unavailable")
        variant_store(job_id=question.variant_job_id, now=timezone.now())
        question.refresh_from_db()
        invitation.refresh_from_db()
    assert question.closed_reason == QuestionState.Closed.UNAVAILABLE
    assert question.attempts_used == 0 and question.opened_at is None
    assert invitation.max_score == 1.0  # only the fixed question counts
    page = client.get(f"/t/{invitation.token}/q/1/")
    assert page.status_code == 503 and "does not count" in page.content.decode()
    assert "Refresh" not in page
    assert client.get(f"/t/{invitation.token}/q/2/").status_code == 200
