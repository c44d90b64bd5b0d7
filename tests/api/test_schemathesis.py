"""Schemathesis against the live schema: no server error, no response that breaks the schema."""

from __future__ import annotations

from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase

from tests.api.conftest import new_invitation

pytestmark = pytest.mark.django_db(transaction=True)

# Every check of schemathesis runs, "schema-valid data must be accepted" included.
HEURISTICS: list = []


def with_real_references(case, real: dict[str, str]):
    """Give the case real values where the schema can only say "a string" or "a UUID": a
    cursor is an opaque token from `next`, an invitation names a published assessment, and
    a subscriber's URL must resolve, an expiry must lie ahead, within a year. Whatever else
    was generated is kept."""
    if case.query:
        case.query.pop("cursor", None)
    body = case.body if isinstance(case.body, dict) else None
    if body is not None and case.operation.path == "/api/v1/invitations/":
        body["assessment"] = real["assessment"]
        if "expires_at" in body:
            # "In the future, within a year" is not a schema type.
            body["expires_at"] = (timezone.now() + timedelta(days=30)).isoformat()
        if isinstance(body.get("candidate"), dict):
            body["candidate"]["email"] = "generated@example.com"
    if body is not None and case.operation.path.startswith("/api/v1/webhooks/") and "url" in body:
        body["url"] = "http://127.0.0.1:9/hooks"
    return case


def test_the_api_keeps_its_schema_under_generated_requests(live_server, key_a, api_a, assessment_a):
    invitation = new_invitation(api_a, assessment_a)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    headers = {"Authorization": f"Bearer {key_a}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    real = {"invitation_id": invitation["id"], "assessment": invitation["assessment"]}

    for operation in operations:

        @hypothesis.settings(
            max_examples=30,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case):
            with_real_references(case, real).call_and_validate(
                base_url=live_server.url, headers=headers, excluded_checks=HEURISTICS
            )

        check()

    # Random ids find nothing: check the real objects' answers against the schema too.
    real_ids = {"invitation_id": invitation["id"], "assessment_id": invitation["assessment"]}
    for operation in operations:
        wanted = {name: real_ids[name] for name in real_ids if f"{{{name}}}" in operation.path}
        if wanted or "{" not in operation.path:
            case = operation.Case(path_parameters=wanted) if wanted else operation.Case()
            response = case.call_and_validate(
                base_url=live_server.url, headers=headers, excluded_checks=HEURISTICS
            )
            assert response.status_code < 300 or operation.method == "post", operation.label
