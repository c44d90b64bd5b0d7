"""What a candidate's browser sends may be hostile: every shape of it gets a 4xx or a verdict,
never a server error, and whatever is stored is storable in PostgreSQL."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

import pytest
from django.test import Client

from accounts.tenancy import tenant_context
from assessments.core.json_body import JsonBodyError, json_body_parse, json_nesting_depth
from assessments.models import Answer, IntegritySignal
from tests.candidates.conftest import correct_option
from tests.candidates.test_taking import question_row, start, url

pytestmark = pytest.mark.django_db

DEEP_ARRAYS = "[" * 2000 + "]" * 2000
CLIENT = IntegritySignal.CLIENT_KINDS
FORM = "application/x-www-form-urlencoded"


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


@pytest.mark.parametrize(
    "number", ["1e999", "-1e999", "1" + "0" * 19, "-" + "9" * 30, "1" + "0" * 5000]
)
def test_numbers_too_large_for_a_float_or_a_column_are_refused(number):
    with pytest.raises(JsonBodyError, match="too large"):
        json_body_parse(f'{{"n": [1, {number}]}}')
    assert json_body_parse("[1e308, 1000000000000000000, -2.5e-400]") == [1e308, 10**18, -0.0]


def signal_body(**fields) -> str:
    # Written by hand: json.dumps cannot write 1e999, and a client need not use it.
    return "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": '"paste"', "position": "1e999"},
        {"kind": '"focus_lost"', "seconds": "1e999"},
        {"kind": '"focus_lost"', "seconds": "-1e999"},
        {"kind": '"focus_lost"', "seconds": "1e308"},
        {"kind": '"focus_lost"', "seconds": "-1"},
        {"kind": '"focus_lost"', "seconds": "86401"},
        {"kind": '"focus_lost"', "seconds": '"12"'},
        {"kind": '"focus_lost"', "seconds": "true"},
        {"kind": '"paste"', "position": "1e308"},
        {"kind": '"paste"', "position": '"x"'},
        {"kind": '"paste"', "position": "1.5"},
        {"kind": '"paste"', "position": "0"},
        {"kind": '"paste"', "position": "-3"},
        {"kind": '"paste"', "position": "true"},
        {"kind": '"paste"', "position": "99"},
        {"kind": '"paste"', "position": "2147483648"},
        {"kind": '"paste"', "position": "1000000000000000000"},
        {"kind": '["paste"]'},
        {"kind": '{"a": 1}'},
        {"kind": '"hint"'},
        {"position": "1"},
    ],
)
def test_a_forged_signal_is_a_400_and_records_nothing(client, invitation, fields):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    response = post_json(client, invitation, ("signal",), signal_body(**fields))
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]
    with tenant_context(invitation.organization_id):
        assert not IntegritySignal.objects.filter(invitation=invitation, kind__in=CLIENT).exists()


def test_a_signal_as_the_page_sends_it_is_kept(client, invitation):
    start(client, invitation)
    client.get(url(invitation, "q", 1))
    for fields in (
        {"kind": '"focus_lost"', "position": "1", "seconds": "4.26"},
        {"kind": '"focus_lost"', "position": "null", "seconds": "86400"},
        {"kind": '"paste"', "position": "1"},
    ):
        response = post_json(client, invitation, ("signal",), signal_body(**fields))
        assert response.status_code == 202, response.content[:300]
    with tenant_context(invitation.organization_id):
        kept = IntegritySignal.objects.filter(invitation=invitation, kind__in=CLIENT)
        rows = sorted((s.kind, s.question_id is not None, s.detail) for s in kept)
    assert rows == [
        ("focus_lost", False, {"seconds": 86400.0}),
        ("focus_lost", True, {"seconds": 4.3}),
        ("paste", True, {}),
    ]


@pytest.mark.parametrize("position", [0, 2**31, 10**30])
def test_a_question_number_no_column_holds_is_a_4xx(client, invitation, position):
    start(client, invitation)
    json = {"HTTP_ACCEPT": "application/json"}
    for method, path in (
        (client.get, ("q", position)),
        (client.get, ("q", position, "state")),
        (client.post, ("q", position, "hint")),
        (client.post, ("q", position, "answer")),
    ):
        response = method(url(invitation, *path), **json)
        assert 400 <= response.status_code < 500, (path, response.content[:200])


CANDIDATE_POSTS = [("start",), ("q", 1, "answer"), ("q", 1, "hint"), ("signal",)]


def csrf_client(invitation) -> Client:
    """A browser's client: CSRF is checked, so its middleware reads the form first."""
    browser = Client(enforce_csrf_checks=True)
    browser.get(url(invitation))
    return browser


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_an_oversized_body_is_a_413_in_the_pages_words(invitation, settings, accept):
    browser = csrf_client(invitation)
    token = browser.cookies["csrftoken"].value
    too_big = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10
    for path in CANDIDATE_POSTS:
        for body, content_type in (
            (urlencode({"answer": "x" * too_big, "csrfmiddlewaretoken": token}), FORM),
            (answer_body(json.dumps("x" * too_big)), "application/json"),
            (answer_body(json.dumps("x" * 70_000)), "application/json"),
        ):
            response = browser.post(
                url(invitation, *path), body, content_type=content_type,
                HTTP_ACCEPT=accept, HTTP_X_CSRFTOKEN=token,
            )  # fmt: skip
            assert response.status_code == 413, (path, response.content[:200])
            assert_refusal(response, accept, "The answer is too long.")


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_form_with_too_many_fields_is_a_400_in_the_pages_words(invitation, settings, accept):
    browser = csrf_client(invitation)
    token = browser.cookies["csrftoken"].value
    fields = [("answer", "a")] * (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1000)
    body = urlencode([*fields, ("csrfmiddlewaretoken", token)])
    for path in CANDIDATE_POSTS:
        response = browser.post(url(invitation, *path), body, content_type=FORM, HTTP_ACCEPT=accept)
        assert response.status_code == 400, (path, response.content[:200])
        assert_refusal(response, accept, "Reload the page and answer again.")


def test_a_multipart_answer_is_read_like_a_form(version, invitation):
    browser = csrf_client(invitation)
    token = browser.cookies["csrftoken"].value
    browser.post(url(invitation, "start"), {"csrfmiddlewaretoken": token})
    browser.get(url(invitation, "q", 1))
    response = browser.post(
        url(invitation, "q", 1, "answer"),
        {
            "answer": correct_option(version, 1),
            "submission_id": str(uuid.uuid4()),
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302, response.content[:300]
    assert question_row(invitation, 1).attempts_used == 1


def assert_refusal(response, accept: str, message: str) -> None:
    if accept == "application/json":
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"].endswith(message)
    else:
        assert response["Content-Type"].startswith("text/html")
        assert message in response.content.decode()
