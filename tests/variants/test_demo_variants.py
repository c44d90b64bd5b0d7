"""Every candidate their own numbers: the demo's variable questions, end to end."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.taking.answering import answer_submit
from assessments.taking.models import QuestionState, VariantStatus
from assessments.taking.session import TakingError, question_open, session_questions
from grading.values import printed_outputs_match
from tests.candidates.conftest import invite
from tests.variants.conftest import prepare_variants, start, torch_says

pytestmark = pytest.mark.django_db

VARIABLE_POSITIONS = (1, 4)


def _correct(question):
    return next(o for o in question.variant["options"] if o["correct"])


def test_two_candidates_get_different_variants_whose_keys_are_torchs_own(demo_version):
    first = start(invite(demo_version, email="ada@example.com"))
    second = start(invite(demo_version, email="bob@example.com"))
    for position in VARIABLE_POSITIONS:
        mine, theirs = first[position - 1], second[position - 1]
        assert mine.variant_status == theirs.variant_status == VariantStatus.READY
        assert mine.variant["code"] != theirs.variant["code"]
        assert "{{" not in mine.variant["code"]
        assert {o["text"] for o in mine.variant["options"]}.isdisjoint(
            {o["text"] for o in theirs.variant["options"]}
        ) or mine.variant["variables"] != theirs.variant["variables"]
        for question in (mine, theirs):
            executed = torch_says(question.variant["code"])
            key = _correct(question)["text"]
            if position == 1:
                assert printed_outputs_match(key, executed, atol=1e-4, rtol=1e-4)
            else:
                assert key == executed
            wrong = [o["text"] for o in question.variant["options"] if not o["correct"]]
            assert len(wrong) == 3 and key not in wrong
    # The same invitation keeps its seed (stable across reloads): same variables again.
    assert first[0].variant_seed and first[0].variant_seed != second[0].variant_seed


def test_each_candidate_is_graded_against_their_own_key(demo_version):
    ada, bob = invite(demo_version, email="ada@example.com"), invite(demo_version, email="b@x.io")
    ada_questions, bob_questions = start(ada), start(bob)
    now = timezone.now()
    with tenant_context(ada.organization_id):
        question_open(ada, session_questions(ada), 1, now=now)
        question_open(bob, session_questions(bob), 1, now=now)
        # Bob's key is not even an option of Ada's question.
        with pytest.raises(TakingError) as refused:
            answer_submit(
                ada, position=1, raw=_correct(bob_questions[0])["id"], submission_id=
                "00000000-0000-0000-0000-000000000001", now=now,
            )  # fmt: skip
        assert refused.value.status == 400
        wrong = next(o for o in ada_questions[0].variant["options"] if not o["correct"])
        graded = answer_submit(
            ada, position=1, raw=wrong["id"],
            submission_id="00000000-0000-0000-0000-000000000002", now=now,
        )  # fmt: skip
        assert graded.answer.correct is False
        graded = answer_submit(
            ada, position=1, raw=_correct(ada_questions[0])["id"],
            submission_id="00000000-0000-0000-0000-000000000003", now=now,
        )  # fmt: skip
        assert graded.answer.correct is True
        assert graded.answer.grading_job.payload["key"]["correct"] == [
            _correct(ada_questions[0])["id"]
        ]


def test_question_does_not_open_until_its_variant_is_ready_and_loses_no_time(demo_version):
    invitation = invite(demo_version)
    start(invitation, prepare=False)
    client = Client()
    page = client.get(f"/t/{invitation.token}/q/1/")
    assert page.status_code == 503
    assert page["Refresh"] == "2" and "being prepared" in page.content.decode()
    # A wait, not an error: a polite status headed as such, never "Not available".
    html = page.content.decode()
    assert "<title>Preparing your question…" in html and 'role="status"' in html
    assert "Not available" not in html and 'role="alert"' not in html
    question = QuestionState.all_tenants.get(invitation=invitation, position=1)
    assert question.opened_at is None and question.deadline is None
    prepare_variants(invitation)
    page = client.get(f"/t/{invitation.token}/q/1/")
    assert page.status_code == 200
    question.refresh_from_db()
    assert question.opened_at is not None
    assert (question.deadline - question.opened_at).total_seconds() == question.time_limit
