"""Greenhouse as the platform sees it: a client that calls with HTTP Basic (the API key as
user name, an empty password), and a receiver (http.server on 127.0.0.1, in a thread) for
the completion PATCH."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from tests.candidates.conftest import publish_set
from tests.receiver import Receiver, Reply

PROFILE_URL = "https://app.greenhouse.io/people/17681532?application_id=26234709"


def basic(key: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()


def greenhouse_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(key))
    return client


class GreenhouseReceiver(Receiver):
    """Greenhouse's side of the callback."""

    def url(self, test_id: int = 12345) -> str:
        return f"{self.origin}/integrations/testing_partners/take_home_tests/{test_id}"

    def fail_next(self, *statuses: int) -> None:
        self.script(*(Reply(status, body=b"") for status in statuses))


@pytest.fixture
def receiver():
    with GreenhouseReceiver() as receiver:
        yield receiver


@pytest.fixture
def key_a(tenant_a) -> str:
    return api_key_create(organization=tenant_a.organization, name="Greenhouse", actor=None)[1]


@pytest.fixture
def key_b(tenant_b) -> str:
    return api_key_create(organization=tenant_b.organization, name="Greenhouse", actor=None)[1]


@pytest.fixture
def gh_a(key_a) -> APIClient:
    return greenhouse_client(key_a)


@pytest.fixture
def gh_b(key_b) -> APIClient:
    return greenhouse_client(key_b)


@pytest.fixture
def version_a(tenant_a):
    return publish_set(tenant_a.organization, title="BatchNorm basics")


def send_test_body(version, url: str, email: str = "hpotter@hogwarts.edu") -> dict:
    """A send_test request as Greenhouse documents it."""
    return {
        "partner_test_id": str(version.challenge_set.public_id),
        "candidate": {
            "first_name": "Harry",
            "last_name": "Potter",
            "resume_url": "https://hogwarts.example/resume",
            "phone_number": "123-456-7890",
            "email": email,
            "greenhouse_profile_url": PROFILE_URL,
        },
        "url": url,
    }
