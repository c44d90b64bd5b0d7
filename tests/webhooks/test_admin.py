"""Endpoints and deliveries in the admin: owners manage them, others look, outsiders get 404."""

from __future__ import annotations

import pytest
from django.test import Client

from assessments.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.conftest import login
from tests.webhooks.conftest import Reply, endpoint_for
from tests.webhooks.test_delivery import attempt, cancel

pytestmark = pytest.mark.django_db

ADD = "/admin/assessments/webhookendpoint/add/"
DELIVERIES = "/admin/assessments/webhookdelivery/"


def change_url(endpoint) -> str:
    return f"/admin/assessments/webhookendpoint/{endpoint.pk}/change/"


def test_an_owner_subscribes_an_endpoint_and_sees_its_secret(tenant_a, receiver):
    client = login(Client(), tenant_a.owner)
    response = client.post(
        ADD,
        {"url": receiver.url, "description": "ATS", "events": ["invitation.completed",
         "badge.awarded"], "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    endpoint = WebhookEndpoint.all_tenants.get()
    assert endpoint.organization == tenant_a.organization
    assert endpoint.events == ["invitation.completed", "badge.awarded"]
    assert endpoint.created_by == tenant_a.owner
    page = client.get(change_url(endpoint)).content.decode()
    assert endpoint.secret in page and "Enabled" in page


def test_a_private_url_is_refused_by_the_form(tenant_a, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    client = login(Client(), tenant_a.owner)
    response = client.post(
        ADD, {"url": "http://169.254.169.254/latest/", "events": ["badge.awarded"]}
    )
    assert response.status_code == 200
    assert "private, loopback or link-local" in response.content.decode()
    assert not WebhookEndpoint.all_tenants.exists()


def test_authors_and_reviewers_cannot_manage_endpoints_nor_read_secrets(tenant_a):
    endpoint = endpoint_for(tenant_a.organization, "http://127.0.0.1:9/")
    for user in (tenant_a.author, tenant_a.reviewer):
        client = login(Client(), user)
        assert client.get(ADD).status_code == 403
        page = client.get(change_url(endpoint))
        assert page.status_code == 200 and endpoint.secret not in page.content.decode()


def test_an_endpoint_of_another_organization_is_a_404(tenant_a, tenant_b):
    endpoint = endpoint_for(tenant_a.organization, "http://127.0.0.1:9/")
    client = login(Client(), tenant_b.owner)
    assert client.get(change_url(endpoint)).status_code == 404
    assert endpoint.url not in client.get("/admin/assessments/webhookendpoint/").content.decode()


def test_a_disabled_endpoint_is_shown_as_such_and_enabling_it_clears_its_failures(
    invitation, tenant_a, receiver
):
    endpoint = endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    receiver.script(Reply(410))
    attempt(delivery)
    client = login(Client(), tenant_a.owner)
    listing = client.get("/admin/assessments/webhookendpoint/").content.decode()
    assert "Disabled by the platform" in listing and "410 Gone" in listing
    response = client.post(
        change_url(endpoint),
        {"url": endpoint.url, "events": endpoint.events, "enabled": "on", "description": ""},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_at is None and endpoint.disabled_reason == ""
    assert endpoint.consecutive_failures == 0


def test_a_delivery_is_redelivered_by_hand_with_the_same_webhook_id(invitation, tenant_a, receiver):
    endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    attempt(delivery)
    assert delivery.status == "succeeded"
    client = login(Client(), tenant_a.owner)
    page = client.get(f"{DELIVERIES}{delivery.pk}/change/").content.decode()
    assert delivery.webhook_id in page and "invitation.cancelled" in page
    response = client.post(
        DELIVERIES, {"action": "redeliver_selected", "_selected_action": [delivery.pk]}
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.manual
    attempt(delivery)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.webhook_id
    assert list(WebhookAttempt.all_tenants.values_list("number", "manual")) == [
        (1, False),
        (2, True),
    ]
    assert delivery.status == "succeeded"


def test_reviewers_cannot_redeliver(invitation, tenant_a, receiver):
    endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    attempt(delivery)
    client = login(Client(), tenant_a.reviewer)
    assert client.get(DELIVERIES).status_code == 200
    client.post(DELIVERIES, {"action": "redeliver_selected", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and not delivery.manual


def test_a_delivery_of_another_organization_cannot_be_redelivered(invitation, tenant_b, receiver):
    endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    attempt(delivery)
    client = login(Client(), tenant_b.owner)
    response = client.post(
        DELIVERIES, {"action": "redeliver_selected", "_selected_action": [delivery.pk]}
    )
    assert response.status_code == 404
    assert client.get(f"{DELIVERIES}{delivery.pk}/change/").status_code == 404
