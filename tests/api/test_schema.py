"""The published schema tells the truth: lists declare their pagination, request bodies are
closed, the idempotency header declares its limits, descriptions are written for API users."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

# Words of our own code, not of the API: a description holding one was copied from a comment.
CODE_COMMENT_MARKERS = re.compile(
    r"\bDRF\b|dispatch|serializer|\bview\b|Run the whole|tenant context|``|\binitial\b|"
    r"request\.user|queryset|TODO|XXX",
    re.IGNORECASE,
)


@pytest.fixture
def schema(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_list_declares_cursor_and_page_size(schema):
    lists = [
        (path, operation)
        for path, method, operation in _operations(schema)
        if method == "get" and "next" in _response_properties(schema, operation)
    ]
    assert {path for path, _ in lists} == {
        "/api/v1/assessments/", "/api/v1/invitations/", "/api/v1/webhooks/"
    }  # fmt: skip
    for path, operation in lists:
        parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert {"cursor", "page_size"} <= set(parameters), path
        page_size = parameters["page_size"]["schema"]
        assert page_size["minimum"] == 1 and page_size["maximum"] == 200, path


def _response_properties(schema, operation) -> dict:
    content = operation["responses"].get("200", {}).get("content", {})
    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    if not ref:
        return {}
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]].get("properties", {})


def _component(schema, reference: str) -> dict:
    return schema["components"]["schemas"][reference.rsplit("/", 1)[1]]


def _objects_in(schema, node: dict):
    if "$ref" in node:
        node = _component(schema, node["$ref"])
    if node.get("type") == "object" or "properties" in node:
        yield node
        for child in node.get("properties", {}).values():
            yield from _objects_in(schema, child)
    if "items" in node:
        yield from _objects_in(schema, node["items"])
    for option in node.get("allOf", []) + node.get("oneOf", []):
        yield from _objects_in(schema, option)


def test_every_request_body_forbids_extra_fields(schema):
    bodies = 0
    for path, method, operation in _operations(schema):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            bodies += 1
            for node in _objects_in(schema, media["schema"]):
                assert node.get("additionalProperties") is False, (method, path, node)
    assert bodies >= 4


def test_the_idempotency_key_declares_its_length(schema):
    seen = 0
    for _, _, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "Idempotency-Key":
                seen += 1
                assert parameter["schema"]["minLength"] == 1
                assert parameter["schema"]["maxLength"] == 255
    assert seen == 2


def test_time_multiplier_is_a_decimal_string_in_requests_and_answers(schema):
    components = schema["components"]["schemas"]
    for name in ("InvitationCreateRequest", "Invitation"):
        assert components[name]["properties"]["time_multiplier"]["type"] == "string", name


def test_descriptions_are_written_for_api_users(schema):
    texts = []
    for path, method, operation in _operations(schema):
        assert operation.get("description"), (method, path)
        texts.append((f"{method} {path}", operation["description"]))
        texts += [(f"{method} {path} {p['name']}", p.get("description", ""))
                  for p in operation.get("parameters", [])]  # fmt: skip
    for name, component in schema["components"]["schemas"].items():
        texts.append((name, component.get("description", "")))
        for field, prop in component.get("properties", {}).items():
            texts.append((f"{name}.{field}", prop.get("description", "")))
    for where, text in texts:
        assert not CODE_COMMENT_MARKERS.search(text), (where, text)


def test_report_url_is_described_as_a_public_expiring_link(schema):
    text = schema["components"]["schemas"]["Result"]["properties"]["report_url"]["description"]
    assert "public" in text and "expires" in text and "members" not in text


def test_the_schema_generates_without_warnings(tmp_path):
    # A warning is a schema that reads worse than it should, e.g. an enum named "Status1abEnum"
    # in generated clients when two "status" fields collide.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
