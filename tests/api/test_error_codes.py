"""Every error code the API can answer is in docs/api.md's table, under its status; the
answers that once disagreed (404 wordings, a 406 with an undocumented code, a 429 whose
message and retry_after differed) now agree."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework import exceptions

from assessments.hr.api import errors
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

DOCS = Path(settings.BASE_DIR) / "docs" / "api.md"


def _documented() -> dict[str, set[str]]:
    """Return each status cell of the errors table with the codes of its row."""
    table: dict[str, set[str]] = {}
    for line in DOCS.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and (cells[0].isdigit() or cells[0] == "any other"):
            table.setdefault(cells[0], set()).update(re.findall(r"`([a-z_]+)`", cells[1]))
    return table


def _emittable() -> set[tuple[str, str]]:
    """Return (status, code) of every error the handler and the middleware can answer."""
    classes = [
        cls
        for module in (exceptions, errors)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, exceptions.APIException) and cls is not exceptions.APIException
    ]
    found = {(str(cls.status_code), cls.default_code) for cls in classes}
    found.add(("400", "invalid"))  # every ValidationError, whatever its field codes
    found |= {(str(status), code) for status, (code, _) in errors.STATUS_CODES.items()}
    found.add(("any other", errors.FALLBACK_CODE[0]))
    found.add(("500", "server_error"))
    return found


def test_every_error_code_the_api_can_answer_is_documented():
    documented = _documented()
    assert "404" in documented and "500" in documented  # the table was found
    missing = {(s, c) for s, c in _emittable() if c not in documented.get(s, set())}
    assert not missing, f"add these to docs/api.md's error table: {sorted(missing)}"


def test_every_404_has_one_message(api_a):
    messages = {
        api_a.get(path).json()["error"]["message"]
        for path in (
            "/api/v1/nothing-here/",
            "/api/v1/invitations/not-a-uuid/",
            "/api/v1/invitations/00000000-0000-0000-0000-000000000000/",
            "/api/v1/assessments/00000000-0000-0000-0000-000000000000/",
            "/api/v1/webhooks/00000000-0000-0000-0000-000000000000/",
        )
    }
    assert messages == {errors.STATUS_CODES[404][1]}


def test_docs_and_schema_with_an_accept_they_cannot_serve_answer_a_documented_406(api_a):
    for path, accept in (
        ("/api/v1/docs/", "application/json"),
        ("/api/v1/schema/", "text/html"),
        ("/api/v1/schema/", "image/png"),
    ):
        response = api_a.get(path, HTTP_ACCEPT=accept)
        assert response.status_code == 406, (path, accept, response.content[:200])
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "not_acceptable"
    assert api_a.get("/api/v1/docs/", HTTP_ACCEPT="text/html").status_code == 200


@pytest.mark.parametrize("wait", [31.0, 31.2, 30.999, 0.2, 0.0, None])
def test_a_429s_message_retry_after_and_header_give_one_figure(wait):
    response = errors.exception_handler(exceptions.Throttled(wait=wait), {})
    seconds = response.data["error"]["retry_after"]
    assert seconds >= 1 and response["Retry-After"] == str(seconds)
    assert re.findall(r"\d+", response.data["error"]["message"]) == [str(seconds)]


def test_a_throttled_request_says_the_same_seconds_everywhere(key_a, settings):
    settings.API_RATE_LIMIT = "1/minute"
    api = client_for(key_a)
    api.get("/api/v1/assessments/")
    response = api.get("/api/v1/assessments/")
    error = response.json()["error"]
    assert response.status_code == 429 and error["code"] == "throttled"
    assert 1 <= error["retry_after"] <= 60
    assert response["Retry-After"] == str(error["retry_after"])
    assert f"{error['retry_after']} second" in error["message"]
