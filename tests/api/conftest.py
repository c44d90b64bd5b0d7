"""API fixtures: a key per organization, a client that sends it, a published assessment."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from tests.candidates.conftest import publish_set


@pytest.fixture
def key_a(tenant_a) -> str:
    return api_key_create(organization=tenant_a.organization, name="HR A", actor=None)[1]


@pytest.fixture
def key_b(tenant_b) -> str:
    return api_key_create(organization=tenant_b.organization, name="HR B", actor=None)[1]


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def api_a(key_a) -> APIClient:
    return client_for(key_a)


@pytest.fixture
def api_b(key_b) -> APIClient:
    return client_for(key_b)


@pytest.fixture
def assessment_a(tenant_a):
    return publish_set(tenant_a.organization, title="BatchNorm basics")


def new_invitation(api, version, email="ada@example.com", **extra):
    body = {
        "assessment": str(version.challenge_set.public_id),
        "candidate": {"email": email, "first_name": "Ada", "external_id": f"ext-{email}"},
        "send_email": False,
        **extra,
    }
    response = api.post("/api/v1/invitations/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()
