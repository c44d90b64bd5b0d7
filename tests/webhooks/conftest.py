"""A webhook receiver of the tests' own (http.server on 127.0.0.1, in a thread) that checks
signatures with its own HMAC code, and fixtures of a published set and endpoints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from accounts.tenancy import tenant_context
from assessments.models import Event, WebhookEndpoint
from tests.candidates.conftest import invite, publish_set
from tests.receiver import Receiver, Reply  # noqa: F401 - Reply is the tests' vocabulary


def signature_valid(secret: str, headers: dict[str, str], body: bytes, tolerance=300) -> bool:
    """Verify a Standard Webhooks signature the way a subscriber would, from the spec."""
    try:
        message_id = headers["webhook-id"]
        timestamp = headers["webhook-timestamp"]
        signatures = headers["webhook-signature"].split(" ")
    except KeyError:
        return False
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (s.partition(",") for s in signatures)
    )


class WebhookReceiver(Receiver):
    @property
    def url(self) -> str:
        return f"{self.origin}/hooks"


@pytest.fixture
def receiver():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def other_receiver():
    with WebhookReceiver() as receiver:
        yield receiver


def endpoint_for(organization, url: str, events=None) -> WebhookEndpoint:
    """Subscribe ``url`` (directly: the tests' URLs are on 127.0.0.1)."""
    with tenant_context(organization):
        return WebhookEndpoint.objects.create(
            organization=organization, url=url, events=list(events or Event.Type.values)
        )


@pytest.fixture
def version(tenant_a):
    return publish_set(tenant_a.organization)


@pytest.fixture
def invitation(version):
    return invite(version)
