"""Variable questions in every format that runs code: tensor values, exceptions, and code
challenges whose test inputs are drawn per candidate (so a hard-coded answer fails)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.taking.answering import answer_graded, answer_submit
from assessments.taking.models import VariantStatus
from assessments.taking.session import question_open, session_questions, session_start
from assessments.taking.variants import variant_store, variant_summary
from grading.formats import validate_variable_grading_config
from grading.jobs import grading_job_run, sandbox_client
from grading.models import GradingJob
from tests.candidates.conftest import invite
from tests.factories import ChallengeFactory, ChallengeOptionFactory, ChallengeSetFactory
from tests.variants.conftest import start, torch_says
from tests.variants.test_variable_questions import _check

pytestmark = pytest.mark.django_db

WIDE_DRAW = (
    "import random\nrng = random.Random(seed)\n"
    "variables = {'n': rng.randint(5, 60), 'scale': rng.randint(2, 10**4),\n"
    "             'rows': [[float(rng.randint(0, 99)) for _ in range(3)] for _ in range(2)]}\n"
)
REAL_ANSWER = (
    "import torch\n\n\ndef weighted_total(x):\n"
    "    return float((x * torch.arange(x.shape[0])).sum())\n"
)
CODE_CONFIG = {
    "entry_point": "weighted_total",
    "reference": REAL_ANSWER,
    "tests": [
        {"name": "drawn", "setup": "args = (torch.full(({{ n }},), {{ scale }}.0),)"},
        {
            "name": "drawn hidden",
            "setup": "args = (torch.arange({{ n }}, dtype=torch.float64) + {{ scale }},)",
            "hidden": True,
        },
    ],
    "seed": 0,
}


def _published(organization, **fields):
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(organization=organization, navigation="free")
        ChallengeFactory(
            challenge_set=challenge_set, position=1, variables=WIDE_DRAW, hint="", **fields
        )
    check = _check(challenge_set)
    assert check.version is not None, check.problems
    return check.version


def _two_candidates(version):
    ada = invite(version, email="ada@example.com")
    bob = invite(version, email="bob@example.com")
    ada_question, bob_question = start(ada)[0], start(bob)[0]
    assert ada_question.variant_status == bob_question.variant_status == VariantStatus.READY
    assert ada_question.variant["variables"] != bob_question.variant["variables"]
    return (ada, ada_question), (bob, bob_question)


def _submit(invitation, raw) -> GradingJob:
    now = timezone.now()
    with tenant_context(invitation.organization_id):
        question_open(invitation, session_questions(invitation), 1, now=now)
        submitted = answer_submit(
            invitation, position=1, raw=raw, submission_id=str(uuid.uuid4()), now=now
        )
        job = submitted.answer.grading_job
        if job.status == GradingJob.Status.QUEUED:  # code: what a worker and callback do
            job = grading_job_run(job_id=job.pk, client=sandbox_client())
            answer_graded(job_id=job.pk, now=now)
        return job


def test_variable_tensor_value_is_graded_against_the_candidates_own_printed_tensor(
    tenant_a, settings, sandbox_socket
):
    settings.VARIANT_PUBLISH_SAMPLE_SIZE = 3
    version = _published(
        tenant_a.organization,
        kind="predict_output",
        answer_format="tensor_value",
        code="import torch\nprint(torch.tensor({{ rows }}).sum(0) * {{ scale }})",
    )
    (ada, ada_question), (bob, bob_question) = _two_candidates(version)
    ada_key = torch_says(ada_question.variant["code"])
    bob_key = torch_says(bob_question.variant["code"])
    assert ada_key.startswith("tensor(") and ada_key != bob_key
    assert ada_question.variant["key"] == {"printed": ada_key + "\n"}
    assert _submit(ada, bob_key).correct is False  # another candidate's answer
    assert _submit(bob, bob_key).correct is True


def test_variable_exception_is_graded_against_the_exception_the_candidates_code_raises(
    tenant_a, settings, sandbox_socket
):
    settings.VARIANT_PUBLISH_SAMPLE_SIZE = 3
    version = _published(
        tenant_a.organization,
        kind="debug",
        answer_format="exception",
        grading_config={"match_message": True},
        code=(
            "import torch\nimport torch.nn as nn\n"
            "nn.Linear({{ n }}, 2)(torch.ones(1, {{ n }} + {{ scale }}))"
        ),
    )
    (ada, ada_question), (_bob, bob_question) = _two_candidates(version)
    ada_raised, bob_raised = (
        torch_says(ada_question.variant["code"]),
        torch_says(bob_question.variant["code"]),
    )
    assert ada_raised.startswith("RuntimeError: mat1 and mat2") and ada_raised != bob_raised
    key = ada_question.variant["key"]
    assert f"{key['type']}: {key['message']}" == ada_raised
    assert _submit(ada, bob_raised).correct is False
    assert _submit(ada, ada_raised).correct is True


def test_code_challenge_draws_test_inputs_per_candidate_so_a_hard_coded_answer_fails(
    tenant_a, settings, sandbox_socket
):
    settings.VARIANT_PUBLISH_SAMPLE_SIZE = 3
    version = _published(
        tenant_a.organization,
        kind="code",
        answer_format="code",
        code="def weighted_total(x):\n    ...",
        # As the admin and the importer save it: validated with its templated setups kept.
        grading_config=validate_variable_grading_config("code", CODE_CONFIG, []),
    )
    with tenant_context(tenant_a.organization):
        preview = version.challenges.get(position=1).key["preview"]
    assert len({tuple(t["setup"] for t in v["tests"]) for v in preview}) > 1
    (ada, ada_question), (bob, bob_question) = _two_candidates(version)
    n, scale = (bob_question.variant["variables"][name] for name in ("n", "scale"))
    # The key is the reference's result on this candidate's own inputs, hidden test included.
    expected = ada_question.variant["key"]["expected"]
    a_n, a_scale = (ada_question.variant["variables"][name] for name in ("n", "scale"))
    assert expected["drawn"]["value"] == pytest.approx(a_scale * a_n * (a_n - 1) / 2)
    assert expected["drawn hidden"]["ok"] is True
    assert ada_question.variant["grading_config"]["tests"][0]["setup"] == (
        f"args = (torch.full(({a_n},), {a_scale}.0),)"
    )
    # Bob's answers, hard-coded, pass Bob's tests and fail Ada's.
    bob_expected = bob_question.variant["key"]["expected"]
    hard_coded = (
        "import torch\n\n\ndef weighted_total(x):\n"
        "    if x.dtype == torch.float64:\n"
        f"        return {bob_expected['drawn hidden']['value']!r}\n"
        f"    return {bob_expected['drawn']['value']!r}\n"
    )
    assert (n, scale) != (a_n, a_scale)
    bob_job = _submit(bob, hard_coded)
    assert bob_job.correct is True, bob_job.feedback
    ada_job = _submit(ada, hard_coded)
    assert ada_job.correct is False
    assert ada_job.payload["config"]["tests"] == ada_question.variant["grading_config"]["tests"]
    assert _submit(ada, REAL_ANSWER).correct is True
    # Members see this candidate's exact tests' results in the report.
    assert str(expected["drawn"]["value"]) in variant_summary(ada_question)["key"]


def test_waiting_for_variants_does_not_count_against_the_overall_time_limit(
    tenant_a, settings, sandbox_socket
):
    settings.VARIANT_PUBLISH_SAMPLE_SIZE = 3
    organization = tenant_a.organization
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(
            organization=organization, navigation="free", time_limit=600
        )
        ChallengeFactory(
            challenge_set=challenge_set, position=1, kind="predict_output", variables=WIDE_DRAW,
            answer_format="tensor_value", code="import torch\nprint(torch.tensor({{ rows }}))",
        )  # fmt: skip
        ChallengeFactory(
            challenge_set=challenge_set, position=2, kind="predict_output", variables=WIDE_DRAW,
            answer_format="tensor_value", code="import torch\nprint(torch.tensor({{ n }}))",
        )  # fmt: skip
    version = _check(challenge_set).version
    invitation = invite(version)
    started = timezone.now()
    with tenant_context(organization):
        session_start(invitation, now=started)
        invitation.refresh_from_db()
        assert invitation.deadline == started + timedelta(seconds=600)
        first, second = session_questions(invitation)
        # The first variant arrives after 30 s: the other is still on its way, nothing moves.
        grading_job_run(job_id=first.variant_job_id, client=sandbox_client())
        variant_store(job_id=first.variant_job_id, now=started + timedelta(seconds=30))
        invitation.refresh_from_db()
        assert invitation.deadline == started + timedelta(seconds=600)
        # The candidate may open the ready one meanwhile; its deadline is cut at the overall.
        opened = question_open(
            invitation, session_questions(invitation), 1, now=started + timedelta(seconds=35)
        )
        assert opened.deadline == started + timedelta(seconds=35 + first.time_limit)
        # The last one arrives 50 s after the start: the overall clock starts then.
        grading_job_run(job_id=second.variant_job_id, client=sandbox_client())
        variant_store(job_id=second.variant_job_id, now=started + timedelta(seconds=50))
        invitation.refresh_from_db()
        assert invitation.deadline == started + timedelta(seconds=650)
        # Stored again (a redelivered callback): the clock is not restarted twice.
        variant_store(job_id=second.variant_job_id, now=started + timedelta(seconds=90))
        invitation.refresh_from_db()
        assert invitation.deadline == started + timedelta(seconds=650)


def test_question_cut_at_the_overall_deadline_gets_its_time_once_variants_are_ready(
    tenant_a, settings, sandbox_socket
):
    settings.VARIANT_PUBLISH_SAMPLE_SIZE = 3
    organization = tenant_a.organization
    with tenant_context(organization):
        challenge_set = ChallengeSetFactory(
            organization=organization, navigation="free", time_limit=100
        )
        ChallengeFactory(challenge_set=challenge_set, position=1, time_limit=90)
        ChallengeFactory(
            challenge_set=challenge_set, position=2, kind="predict_output", variables=WIDE_DRAW,
            answer_format="tensor_value", code="import torch\nprint(torch.tensor({{ rows }}))",
        )  # fmt: skip
        plain = challenge_set.challenges.get(position=1)
        ChallengeOptionFactory(challenge=plain, text="yes", is_correct=True)
        ChallengeOptionFactory(challenge=plain, text="no", is_correct=False)
    version = _check(challenge_set).version
    invitation = invite(version)
    started = timezone.now()
    with tenant_context(organization):
        session_start(invitation, now=started)
        invitation.refresh_from_db()
        # A plain question opened 20 s in: 90 s would pass the overall 100 s, so it is cut.
        plain_question = question_open(
            invitation, session_questions(invitation), 1, now=started + timedelta(seconds=20)
        )
        assert plain_question.deadline == started + timedelta(seconds=100)
        variable = session_questions(invitation)[1]
        grading_job_run(job_id=variable.variant_job_id, client=sandbox_client())
        variant_store(job_id=variable.variant_job_id, now=started + timedelta(seconds=40))
        invitation.refresh_from_db()
        plain_question.refresh_from_db()
    assert invitation.deadline == started + timedelta(seconds=140)
    assert plain_question.deadline == started + timedelta(seconds=110)  # its own 90 s
