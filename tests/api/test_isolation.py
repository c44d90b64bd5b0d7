"""Tenant isolation over every API route and method: organization B's key gets 404 for every
object of organization A, and B's lists never contain A's objects.

``MATRIX`` names every route of /api/v1/; a route added without a line here fails
``test_every_route_is_in_the_matrix``.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from assessments.models import Invitation, WebhookEndpoint
from tests.api.conftest import new_invitation

pytestmark = pytest.mark.django_db

# Routes that serve no organization's data (the schema and its docs).
PUBLIC = {"api:schema", "api:docs"}

# route name -> (methods with a body or not, how to build the path from A's objects)
MATRIX = {
    "api:assessments": {"list": "/api/v1/assessments/", "methods": ["get"]},
    "api:assessment": {"path": "/api/v1/assessments/{assessment}/", "methods": ["get"]},
    "api:invitations": {"list": "/api/v1/invitations/", "methods": ["get", "post"]},
    "api:invitation": {"path": "/api/v1/invitations/{invitation}/", "methods": ["get"]},
    "api:invitation-cancel": {
        "path": "/api/v1/invitations/{invitation}/cancel/",
        "methods": ["post"],
    },
    "api:invitation-result": {
        "path": "/api/v1/invitations/{invitation}/result/",
        "methods": ["get"],
    },
    "api:webhooks": {"list": "/api/v1/webhooks/", "methods": ["get", "post"]},
    "api:webhook": {"path": "/api/v1/webhooks/{webhook}/", "methods": ["get", "patch", "delete"]},
}
ALL_METHODS = ["get", "post", "put", "patch", "delete"]


def _api_route_names() -> set[str]:
    def walk(patterns, namespace=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern) and namespace.startswith("api:") and entry.name:
                yield f"{namespace}{entry.name}"

    return set(walk(get_resolver().url_patterns))


def test_every_route_is_in_the_matrix():
    assert _api_route_names() - PUBLIC == set(MATRIX)


@pytest.fixture
def a_objects(api_a, assessment_a):
    invitation = new_invitation(api_a, assessment_a, email="secret-a@example.com")
    webhook = api_a.post(
        "/api/v1/webhooks/",
        {"url": "http://127.0.0.1:9/secret-a", "events": ["invitation.completed"]},
        format="json",
    ).json()
    return {
        "assessment": str(assessment_a.challenge_set.public_id),
        "invitation": invitation["id"],
        "webhook": webhook["id"],
    }


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_organization_b_never_sees_organization_a(route, a_objects, api_b, tenant_b):
    entry = MATRIX[route]
    if "path" in entry:
        path = entry["path"].format(**a_objects)
        for method in ALL_METHODS:
            response = getattr(api_b, method)(path, {}, format="json")
            expected = 404 if method in entry["methods"] else 405
            if method not in entry["methods"]:
                # Not allowed for anyone; must not reveal whether the object exists either.
                assert response.status_code in (404, 405), (method, path)
                continue
            assert response.status_code == expected, (method, path, response.content)
            assert response.json()["error"]["code"] == "not_found"
    else:
        body = api_b.get(entry["list"]).content.decode()
        for value in a_objects.values():
            assert value not in body
        assert "secret-a@example.com" not in body
    # Whatever B tried, A's invitation and webhook are untouched.
    assert Invitation.all_tenants.get(public_id=a_objects["invitation"]).status == "invited"
    webhook = WebhookEndpoint.all_tenants.get(public_id=a_objects["webhook"])
    assert webhook.enabled and webhook.url == "http://127.0.0.1:9/secret-a"


def test_b_cannot_invite_to_an_assessment_of_a(a_objects, api_b):
    body = {"assessment": a_objects["assessment"], "candidate": {"email": "x@example.com"}}
    response = api_b.post("/api/v1/invitations/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "assessment": ["No published assessment with this id."]
    }
    assert not Invitation.all_tenants.filter(email="x@example.com").exists()


def test_b_filtering_by_a_assessment_finds_nothing(a_objects, api_b):
    response = api_b.get(f"/api/v1/invitations/?assessment={a_objects['assessment']}")
    assert response.status_code == 200 and response.json()["results"] == []
