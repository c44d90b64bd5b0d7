"""Webhook endpoints through the API: the secret once, strict fields, one error shape, SSRF,
and another organization's endpoints are 404 (also in tests/api/test_isolation.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.api_keys import api_key_create
from assessments.models import WebhookDelivery, WebhookEndpoint
from tests.api.conftest import client_for
from tests.webhooks.conftest import signature_valid
from tests.webhooks.test_delivery import attempt, cancel

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_a(tenant_a):
    return client_for(api_key_create(organization=tenant_a.organization, name="A", actor=None)[1])


@pytest.fixture
def api_b(tenant_b):
    return client_for(api_key_create(organization=tenant_b.organization, name="B", actor=None)[1])


def subscribe(api, url, events=("invitation.cancelled",), **extra):
    return api.post("/api/v1/webhooks/", {"url": url, "events": list(events), **extra}, "json")


def test_create_returns_the_secret_once_and_deliveries_verify_with_it(api_a, invitation, receiver):
    response = subscribe(api_a, receiver.url, description="ATS")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    assert created["events"] == ["invitation.cancelled"] and created["description"] == "ATS"
    shown = api_a.get(f"/api/v1/webhooks/{created['id']}/").json()
    assert "secret" not in shown and shown["id"] == created["id"]
    listed = api_a.get("/api/v1/webhooks/").json()
    assert [w["id"] for w in listed["results"]] == [created["id"]]
    assert "secret" not in listed["results"][0]
    attempt(WebhookDelivery.all_tenants.get(event=cancel(invitation)))
    (request,) = receiver.received
    assert signature_valid(created["secret"], request.headers, request.body)


def test_create_refuses_unknown_fields_events_and_private_urls(api_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = subscribe(api_a, "https://93.184.215.14/x", secret="mine", events=["nope"])
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "invalid"
    assert set(error["fields"]) == {"secret", "events.0"}
    response = subscribe(api_a, "http://169.254.169.254/latest/")
    assert response.status_code == 400
    assert "link-local" in response.json()["error"]["fields"]["url"][0]
    response = subscribe(api_a, "ftp://93.184.215.14/x")
    assert response.status_code == 400 and "url" in response.json()["error"]["fields"]
    assert response.json()["error"]["code"] == "invalid"
    assert not WebhookEndpoint.all_tenants.exists()


def test_update_changes_events_and_enabling_clears_an_automatic_disable(api_a):
    created = subscribe(api_a, "http://127.0.0.1:9/a").json()
    WebhookEndpoint.all_tenants.filter(public_id=created["id"]).update(
        enabled=False, disabled_at=timezone.now(), consecutive_failures=3,
        disabled_reason="the endpoint answered 410 Gone",
    )  # fmt: skip
    path = f"/api/v1/webhooks/{created['id']}/"
    shown = api_a.get(path).json()
    assert shown["enabled"] is False and shown["disabled_reason"].endswith("410 Gone")
    response = api_a.patch(path, {"enabled": True, "events": ["badge.awarded"]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["enabled"] is True and body["disabled_at"] is None
    assert body["disabled_reason"] == "" and body["events"] == ["badge.awarded"]
    assert api_a.patch(path, {"secret": "x"}, format="json").status_code == 400
    assert api_a.patch(path, {"events": []}, format="json").status_code == 400


def test_delete_removes_the_endpoint(api_a):
    created = subscribe(api_a, "http://127.0.0.1:9/a").json()
    path = f"/api/v1/webhooks/{created['id']}/"
    assert api_a.delete(path).status_code == 204
    assert api_a.get(path).json()["error"]["code"] == "not_found"


def test_another_organization_cannot_see_change_or_delete_an_endpoint(api_a, api_b):
    created = subscribe(api_a, "http://127.0.0.1:9/a-only").json()
    path = f"/api/v1/webhooks/{created['id']}/"
    assert api_b.get(path).status_code == 404
    assert api_b.patch(path, {"enabled": False}, format="json").status_code == 404
    assert api_b.delete(path).status_code == 404
    assert "a-only" not in api_b.get("/api/v1/webhooks/").content.decode()
    assert WebhookEndpoint.all_tenants.get(public_id=created["id"]).enabled
