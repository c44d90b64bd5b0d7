"""Answers sent at the same moment: attempts never exceed the maximum."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tenancy import tenant_context
from assessments.models import Answer, Invitation, QuestionState
from assessments.taking.answering import answer_submit
from assessments.taking.session import TakingError, question_open, session_questions, session_start
from tests.candidates.conftest import invite, publish_set, wrong_option

pytestmark = pytest.mark.django_db(transaction=True)


def _race(invitation, raws_and_ids):
    """Submit every (answer, submission id) from its own thread and connection at once."""
    barrier = threading.Barrier(len(raws_and_ids))
    outcomes = []

    def send(raw, submission_id):
        try:
            with tenant_context(invitation.organization_id):
                fresh = Invitation.objects.select_related("version").get(pk=invitation.pk)
                barrier.wait()
                result = answer_submit(
                    fresh, position=1, raw=raw, submission_id=submission_id, now=timezone.now()
                )
                outcomes.append(("created" if result.created else "repeat", result.answer.pk))
        except TakingError as exc:
            outcomes.append(("refused", exc.message))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=pair) for pair in raws_and_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def _started(tenant):
    version = publish_set(tenant.organization)
    invitation = invite(version)
    with tenant_context(invitation.organization_id):
        invitation = session_start(invitation, now=timezone.now())
        question_open(invitation, session_questions(invitation), 1, now=timezone.now())
    return version, invitation


def test_simultaneous_answers_never_exceed_the_attempts(tenant_a):
    version, invitation = _started(tenant_a)
    wrong = wrong_option(version, 1)
    outcomes = _race(invitation, [(wrong, str(uuid.uuid4())) for _ in range(8)])
    assert len(outcomes) == 8
    created = [o for o in outcomes if o[0] == "created"]
    assert len(created) == 2, outcomes
    assert all(kind == "refused" for kind, _ in outcomes if kind != "created")
    with tenant_context(invitation.organization_id):
        question = QuestionState.objects.get(invitation=invitation, position=1)
        assert question.attempts_used == 2 and question.closed_reason == "attempts"
        assert Answer.objects.filter(question=question).count() == 2


def test_a_double_click_sent_twice_at_once_counts_once(tenant_a):
    version, invitation = _started(tenant_a)
    submission_id = str(uuid.uuid4())
    outcomes = _race(invitation, [(wrong_option(version, 1), submission_id)] * 4)
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["created", "repeat", "repeat", "repeat"], outcomes
    assert len({answer_id for _, answer_id in outcomes}) == 1
    with tenant_context(invitation.organization_id):
        assert QuestionState.objects.get(invitation=invitation, position=1).attempts_used == 1
