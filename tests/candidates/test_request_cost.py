"""What a candidate's requests cost the database: exact query counts on the hot path.

Candidates are most of the traffic (README, "Candidates under load"): a query more on the
question page, the answer or the state poll is a cost paid thousands of times a minute, so
these counts change only on purpose. The verdict poll of a code answer being graded costs no
query at all: the cache answers it (``taking.verdicts``).
"""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from assessments.taking.verdicts import verdict_pending, verdict_pending_mark
from tests.candidates.conftest import correct_option, invite, wrong_option
from tests.candidates.test_worker_path import _code_set
from tests.grading.test_code_answers import CORRECT

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def started(invitation):
    """A candidate who started and opened question 1; their client and base URL."""
    client = Client()
    base = f"/t/{invitation.token}"
    client.post(f"{base}/start/")
    assert client.get(f"{base}/q/1/").status_code == 200
    return client, base


@pytest.mark.django_db
def test_question_page_costs_three_queries(started, django_assert_num_queries):
    client, base = started
    # The invitation by its token, the session's questions, the question's answers.
    with django_assert_num_queries(3):
        response = client.get(f"{base}/q/1/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_choice_answer_costs_one_lookup_and_one_transaction(
    started, version, django_assert_num_queries
):
    client, base = started
    body = {"answer": wrong_option(version, 1), "submission_id": str(uuid.uuid4())}
    # The token; then in one transaction (a savepoint inside the test's): the locked question,
    # the graded job, the answer with its verdict, the question's new state; after it, the
    # set's practice mode records that the reply carries the explanation.
    with django_assert_num_queries(8):
        response = client.post(f"{base}/q/1/answer/", body, content_type="application/json", **JSON)
    assert response.status_code == 201 and response.json()["last_answer"]["correct"] is False


@pytest.mark.django_db
def test_answer_that_closes_the_question_also_asks_whether_the_session_is_over(
    started, version, django_assert_num_queries
):
    client, base = started
    body = {"answer": correct_option(version, 1), "submission_id": str(uuid.uuid4())}
    # The seven of an answer; then, outside the question's lock, the invitation and its
    # questions (is the session over?), and the explanation the closed question now shows.
    with django_assert_num_queries(10):
        response = client.post(f"{base}/q/1/answer/", body, content_type="application/json", **JSON)
    assert response.json()["closed"] is True


@pytest.mark.django_db
def test_state_costs_three_queries(started, django_assert_num_queries):
    client, base = started
    with django_assert_num_queries(3):
        response = client.get(f"{base}/q/1/state/", **JSON)
    assert response.json()["pending"] is False


@pytest.mark.django_db
def test_verdict_poll_while_grading_costs_no_query(started, invitation, django_assert_num_queries):
    client, base = started
    verdict_pending_mark(token=invitation.token, position=1)
    with django_assert_num_queries(0):
        response = client.get(f"{base}/q/1/state/?poll=1", **JSON)
    assert response.json() == {"position": 1, "pending": True}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_verdict_poll_without_a_mark_reads_the_database(started, django_assert_num_queries):
    client, base = started
    with django_assert_num_queries(3):
        response = client.get(f"{base}/q/1/state/?poll=1", **JSON)
    assert response.json()["pending"] is False and "remaining_ms" in response.json()


@pytest.mark.django_db
def test_verdict_poll_of_an_unknown_token_says_nothing(client):
    response = client.get("/t/no-such-token/q/1/state/?poll=1", **JSON)
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_verdict_poll_shows_the_worker_verdict(tenant_a, celery_worker):
    """The mark is set with the answer and cleared with its verdict: the poll then says it."""
    invitation = invite(_code_set(tenant_a.organization))
    client = Client()
    base = f"/t/{invitation.token}"
    client.post(f"{base}/start/")
    client.get(f"{base}/q/1/")
    client.post(f"{base}/q/1/answer/", {"answer": CORRECT, "submission_id": uuid.uuid4()})
    for _ in range(300):
        state = client.get(f"{base}/q/1/state/?poll=1", **JSON).json()
        if not state["pending"]:
            break
        assert verdict_pending(token=invitation.token, position=1) or state["pending"]
        client.get("/healthz")  # a pause that is a request, not a sleep in a loop of asserts
    assert state["pending"] is False, celery_worker.log()
    assert state["last_answer"]["correct"] is True and state["closed"]
    assert not verdict_pending(token=invitation.token, position=1)
