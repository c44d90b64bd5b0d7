"""Schemathesis against the live schema: no server error, no response that breaks the schema."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase

from tests.api.conftest import new_invitation

pytestmark = pytest.mark.django_db(transaction=True)

# "Schema-valid data must be accepted" cannot hold for opaque values: a made-up cursor, or
# an id of no existing object, is well-formed and still (rightly) 400 or 404. Every other
# check runs: no 5xx, documented status codes, content types, headers and response bodies.
HEURISTICS = [schemathesis.checks.positive_data_acceptance]


def test_the_api_keeps_its_schema_under_generated_requests(live_server, key_a, api_a, assessment_a):
    invitation = new_invitation(api_a, assessment_a)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    headers = {"Authorization": f"Bearer {key_a}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7

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
            case.call_and_validate(
                base_url=live_server.url, headers=headers, excluded_checks=HEURISTICS
            )

        check()

    # Random ids find nothing: check the real objects' answers against the schema too.
    real = {"invitation_id": invitation["id"], "assessment_id": invitation["assessment"]}
    for operation in operations:
        wanted = {name: real[name] for name in real if f"{{{name}}}" in operation.path}
        if wanted or "{" not in operation.path:
            case = operation.Case(path_parameters=wanted) if wanted else operation.Case()
            response = case.call_and_validate(
                base_url=live_server.url, headers=headers, excluded_checks=HEURISTICS
            )
            assert response.status_code < 300 or operation.method == "post", operation.label
