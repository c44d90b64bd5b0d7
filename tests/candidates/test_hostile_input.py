"""What a candidate's browser sends may be hostile: every shape of it gets a 4xx or a verdict,
never a server error, and whatever is stored is storable in PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest

from accounts.tenancy import tenant_context
from assessments.core.json_body import JsonBodyError, json_body_parse, json_nesting_depth
from assessments.models import Answer
from tests.candidates.test_taking import question_row, start, url

pytestmark = pytest.mark.django_db

DEEP_ARRAYS = "[" * 2000 + "]" * 2000


def post_json(client, invitation, path, body: str):
    return client.post(
        url(invitation, *path),
        body,
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )


def answer_body(answer_json: str) -> str:
    return f'{{"answer": {answer_json}, "submission_id": "{uuid.uuid4()}"}}'


def test_deeply_nested_answer_is_a_400_and_uses_no_attempt(client, invitation):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    for nested in (DEEP_ARRAYS, '{"a":' * 2000 + "1" + "}" * 2000):
        response = post_json(client, invitation, ("q", 1, "answer"), answer_body(nested))
        assert response.status_code == 400
        assert "nested" in response.json()["error"]
    assert question_row(invitation, 1).attempts_used == 0


def test_deeply_nested_signal_is_a_400(client, invitation):
    start(client, invitation)
    response = post_json(client, invitation, ("signal",), DEEP_ARRAYS)
    assert response.status_code == 400


@pytest.mark.parametrize("text", ["running\x00statistics", "running \ud800 statistics"])
def test_text_with_nul_or_lone_surrogate_is_graded_and_stored(client, version, invitation, text):
    start(client, invitation)
    for position in (1, 2):  # the text question is the third of a sequential set
        client.get(url(invitation, "q", position))
        row = question_row(invitation, position)
        row.closed_at = row.opened_at
        row.save(update_fields=["closed_at"])
    client.get(url(invitation, "q", 3))
    body = json.dumps({"answer": text, "submission_id": str(uuid.uuid4())})
    response = post_json(client, invitation, ("q", 3, "answer"), body)
    assert response.status_code == 201, response.content[:300]
    with tenant_context(invitation.organization_id):
        answer = Answer.objects.get(question__invitation=invitation, question__position=3)
    assert answer.status == Answer.Status.GRADED and answer.correct is False
    assert answer.raw.isprintable() and "\\u" in answer.raw


def test_nesting_is_measured_outside_strings():
    assert json_nesting_depth('{"a": "[[[[[[", "b": [1, [2]]}') == 3
    assert json_nesting_depth('"\\"[[[["') == 0
    with pytest.raises(JsonBodyError):
        json_body_parse(b"[" * 33 + b"]" * 33)
    assert json_nesting_depth(json.dumps(json_body_parse(b"[" * 32 + b"]" * 32))) == 32
    with pytest.raises(JsonBodyError):
        json_body_parse(b"\xff\xfe")
