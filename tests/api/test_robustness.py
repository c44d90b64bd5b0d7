"""What hostile or careless requests get: tampered cursors, deep nesting, oversized bodies,
thousands of unknown fields, values of the wrong JSON type, and every error path as JSON."""

from __future__ import annotations

import base64
import json
import logging
import random
import string
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client

from assessments.hr.api import views
from tests.api.conftest import client_for, new_invitation

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/assessments/", "/api/v1/invitations/", "/api/v1/webhooks/"]


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _tampered_cursors(count: int) -> list[str]:
    rng = random.Random(13)
    made = [
        "AAAA", "cD0yMDI2",  # p=2026, from the issue
        _b64("p=2026"), _b64("p=2026-13-45T99:00:00Z"), _b64("p=2026-01-01T00:00:00"),
        _b64("p=0001-01-01T00:00:00+14:00"), _b64("o=99999999999"), _b64("r=x"), _b64("o=-1"),
        _b64("o=99999999999999999999999999"), _b64("o=1"), _b64("r=1"),
        _b64("p=2026-01-01T00:00:00Z"),  # DRF's own format, well formed, but not ours
        _b64("p=" + "9" * 5000), "not base64 at all!", "%00", "é☃\U0001d518", "=" * 40, "A" * 900,
        _b64("p=\x00"), _b64("p=2026-01-01T00:00:00Z&p=x"), _b64("p=1e309"),
        _b64('{"o": 0, "r": false, "p": null}'), "e30:" + "A" * 27, "e30", ":",
    ]  # fmt: skip
    alphabet = string.printable + "éß☃\U0001d518\u202e"
    while len(made) < count:
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        made.append(rng.choice([raw, _b64(raw), _b64("p=" + raw), _b64(f"o={raw}&p={raw}")]))
    return made


def test_a_cursor_the_api_did_not_make_is_a_400_on_every_list(api_a, assessment_a):
    new_invitation(api_a, assessment_a)
    for cursor in _tampered_cursors(150):
        for path in LISTS:
            error = _error(api_a.get(path, {"cursor": cursor}), 400, "invalid")
            assert "cursor" in error["fields"], (path, cursor)


def _cursor_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["cursor"][0]


def test_a_signed_cursor_changed_or_used_on_another_list_is_a_400(api_a, assessment_a):
    for n in range(3):
        new_invitation(api_a, assessment_a, email=f"c{n}@example.com")
    cursor = _cursor_of(api_a.get("/api/v1/invitations/", {"page_size": 1}).json()["next"])
    payload, _, signature = cursor.rpartition(":")
    forged = {"o": 10**30, "r": False, "p": None}
    changed = [
        signing.b64_encode(json.dumps(forged).encode()).decode() + ":" + signature,
        payload[:-1] + ("A" if payload[-1] != "A" else "B") + ":" + signature,
        payload + ":" + signature[:-1],
        payload,
    ]
    for tampered in changed:
        _error(api_a.get("/api/v1/invitations/", {"cursor": tampered}), 400, "invalid")
    for other_list in ("/api/v1/assessments/", "/api/v1/webhooks/"):
        _error(api_a.get(other_list, {"cursor": cursor}), 400, "invalid")


def test_a_signed_cursor_with_content_we_never_write_is_still_a_400(api_a, assessment_a):
    salt = "api.cursor:/api/v1/invitations/"
    for payload in (
        {"o": 10**30, "r": False, "p": None},
        {"o": 0, "r": False, "p": "2026-01-01T00:00:00"},
        {"o": 0, "r": "yes", "p": None},
        {"o": 0, "r": False, "p": None, "x": 1},
        ["o", 0],
    ):
        cursor = signing.dumps(payload, salt=salt)
        _error(api_a.get("/api/v1/invitations/", {"cursor": cursor}), 400, "invalid")


def test_a_cursor_from_next_still_pages(api_a, assessment_a):
    for n in range(3):
        new_invitation(api_a, assessment_a, email=f"c{n}@example.com")
    first = api_a.get("/api/v1/invitations/", {"page_size": 2}).json()
    second = api_a.get(first["next"]).json()
    assert len(first["results"]) == 2 and len(second["results"]) == 1
    back = api_a.get(second["previous"]).json()
    assert [i["id"] for i in back["results"]] == [i["id"] for i in first["results"]]


def test_bad_page_sizes_are_refused_on_every_list(api_a):
    for path in LISTS:
        for page_size in ("0", "201", "x", "-1"):
            _error(api_a.get(path, {"page_size": page_size}), 400, "invalid")
        _error(api_a.get(path, {"colour": "blue"}), 400, "invalid")


def _nested(depth: int, opener: str, closer: str) -> bytes:
    return (opener * depth + closer * depth).encode()


WRITES = [
    ("post", "/api/v1/invitations/"),
    ("post", "/api/v1/webhooks/"),
    ("patch", "/api/v1/webhooks/{webhook}/"),
    ("post", "/api/v1/invitations/{invitation}/cancel/"),
]
GREENHOUSE_WRITES = ["/greenhouse/send_test", "/greenhouse/response_error"]


def _write_paths(api, assessment) -> list[tuple[str, str]]:
    invitation = new_invitation(api, assessment)
    webhook = api.post(
        "/api/v1/webhooks/",
        {"url": "http://127.0.0.1:9/hooks", "events": ["invitation.completed"]},
        format="json",
    ).json()
    return [(m, p.format(webhook=webhook["id"], invitation=invitation["id"])) for m, p in WRITES]


def _greenhouse(key: str) -> Client:
    credentials = base64.b64encode(f"{key}:".encode()).decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {credentials}")


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_deeply_nested_json_is_a_400_on_every_write(api_a, key_a, assessment_a, opener, closer):
    paths = _write_paths(api_a, assessment_a)
    for depth in (2000, 100_000, 33):
        body = _nested(depth, opener, closer) if opener == "[" else _nested_objects(depth)
        for method, path in paths:
            response = getattr(api_a, method)(path, body, content_type="application/json")
            _error(response, 400, "parse_error")
        for path in GREENHOUSE_WRITES:
            response = _greenhouse(key_a).post(path, body, content_type="application/json")
            _error(response, 400, "parse_error")


def test_numbers_past_a_float_or_a_column_are_a_400_on_every_write(api_a, key_a, assessment_a):
    paths = _write_paths(api_a, assessment_a)
    for number in ("1e999", "-1e999", "1" + "0" * 30):
        body = f'{{"email": "n@example.com", "time_multiplier": {number}, "events": [{number}]}}'
        for method, path in paths:
            response = getattr(api_a, method)(path, body, content_type="application/json")
            assert "too large" in _error(response, 400, "parse_error")["message"], path
        for path in GREENHOUSE_WRITES:
            response = _greenhouse(key_a).post(path, body, content_type="application/json")
            _error(response, 400, "parse_error")


def _nested_objects(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()


def test_bodies_over_the_limit_are_a_json_413(api_a, key_a, assessment_a, settings):
    paths = _write_paths(api_a, assessment_a)
    big = json.dumps({"description": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    for method, path in paths:
        response = getattr(api_a, method)(path, big, content_type="application/json")
        _error(response, 413, "too_large")
    for path in GREENHOUSE_WRITES:
        _error(_greenhouse(key_a).post(path, big, content_type="application/json"), 413)


def test_thousands_of_unknown_fields_get_a_bounded_answer(api_a, assessment_a):
    body = {f"k{n:05d}": n for n in range(26_214)}
    for method, path in _write_paths(api_a, assessment_a)[:3]:
        response = getattr(api_a, method)(path, body, format="json")
        error = _error(response, 400, "invalid")
        assert len(response.content) < 10_000
        assert len(error["fields"]) == 50 and error["fields_omitted"] > 26_000
    huge_name = {"x" * 100_000: 1}
    response = api_a.post("/api/v1/webhooks/", huge_name, format="json")
    assert len(response.content) < 2_000


@pytest.mark.parametrize(
    "change,field",
    [
        ({"send_email": "yes"}, "send_email"),
        ({"send_email": 1}, "send_email"),
        ({"time_multiplier": 2}, "time_multiplier"),
        ({"time_multiplier": 1.5}, "time_multiplier"),
        ({"time_multiplier": True}, "time_multiplier"),
        ({"assessment": 12}, "assessment"),
        ({"expires_at": 1_900_000_000}, "expires_at"),
        ({"candidate": {"email": "ada@example.com", "first_name": 42}}, "candidate.first_name"),
        ({"candidate": {"email": ["ada@example.com"]}}, "candidate.email"),
        ({"candidate": "ada@example.com"}, "candidate"),
    ],
)
def test_values_of_another_json_type_are_refused(api_a, assessment_a, change, field):
    body = {
        "assessment": str(assessment_a.challenge_set.public_id),
        "candidate": {"email": "ada@example.com"},
        "send_email": False,
        **change,
    }
    error = _error(api_a.post("/api/v1/invitations/", body, format="json"), 400, "invalid")
    assert field in error["fields"], error


def test_webhook_fields_are_type_checked_too(api_a):
    for body, field in [
        ({"url": "http://127.0.0.1:9/", "events": ["invitation.completed", 3]}, "events"),
        ({"url": "http://127.0.0.1:9/", "events": "invitation.completed"}, "events"),
        ({"url": "http://127.0.0.1:9/", "events": ["invitation.completed"], "description": 5},
         "description"),
    ]:  # fmt: skip
        error = _error(api_a.post("/api/v1/webhooks/", body, format="json"), 400, "invalid")
        assert field in error["fields"], error


def test_time_multiplier_as_a_decimal_string_is_accepted(api_a, assessment_a):
    invitation = new_invitation(api_a, assessment_a, time_multiplier="1.50")
    assert invitation["time_multiplier"] == "1.50"


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_every_error_path_answers_json(debug, key_a, api_a, assessment_a):
    anonymous = Client(raise_request_exception=False)
    _error(api_a.get("/api/v1/nothing-here/"), 404, "not_found")
    _error(api_a.get("/api/v1/invitations/not-a-uuid/"), 404, "not_found")
    _error(api_a.get("/api/v1/invitations/not-a-uuid/result/"), 404, "not_found")
    _error(anonymous.get("/api/v2/"), 404, "not_found")
    _error(anonymous.get("/greenhouse/nothing"), 404, "not_found")
    _error(api_a.put("/api/v1/invitations/", {}, format="json"), 405)
    _error(api_a.delete("/api/v1/assessments/"), 405)
    response = api_a.post("/api/v1/invitations/", "a=b", content_type="text/plain")
    _error(response, 415)
    response = api_a.post("/api/v1/invitations/", b"{not json", content_type="application/json")
    _error(response, 400, "parse_error")
    _error(anonymous.get("/api/v1/invitations/"), 401, "not_authenticated")
    assert api_a.get("/api/v1/docs/").status_code == 200  # the Swagger page stays HTML


def test_a_bug_is_a_json_500_with_an_id_in_the_log(debug, api_a, key_a, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals /srv/app/settings.py")

    monkeypatch.setattr(views, "_latest_versions", explode)
    client = client_for(key_a)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/assessments/")
    error = _error(response, 500, "server_error")
    assert error["error_id"] in error["message"]
    assert (
        "secret" not in response.content.decode() and "Traceback" not in response.content.decode()
    )
    logged = [r for r in caplog.records if error["error_id"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None
