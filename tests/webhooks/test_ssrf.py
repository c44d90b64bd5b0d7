"""Subscribers choose URLs: private, loopback and link-local targets are refused when
subscribing and again at delivery, by the address actually connected to."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from accounts.tenancy import tenant_context
from assessments.hr.outbox.transport import address_is_public
from assessments.hr.webhooks.models import webhook_url_check
from assessments.hr.webhooks.services import webhook_endpoint_create
from assessments.models import WebhookDelivery
from tests.webhooks.conftest import endpoint_for
from tests.webhooks.test_delivery import attempt, cancel

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def strict(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    return settings


@pytest.fixture
def dns(monkeypatch):
    """A resolver the test controls for names under .test (and the real one for the rest)."""
    answers: dict[str, str] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        if host.endswith((".test", ".invalid")):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[64:ff9b::a00:1]/hook",
        "http://internal.test/hook",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(strict, dns, url):
    dns["internal.test"] = "10.0.0.8"
    with pytest.raises(ValidationError, match="private, loopback or link-local"):
        webhook_url_check(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.test/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://user:secret@hooks.test/x", "credentials"),
        ("http:///nohost", "no host"),
        ("http://nowhere.invalid/x", "does not resolve"),
    ],
)
def test_only_plain_http_and_https_urls_that_resolve_are_accepted(strict, dns, url, message):
    dns["hooks.test"] = "93.184.215.14"
    with pytest.raises(ValidationError, match=message):
        webhook_url_check(url)


def test_a_public_address_is_accepted(strict, dns, tenant_a):
    dns["hooks.test"] = "93.184.215.14"
    webhook_url_check("https://hooks.test/x")
    webhook_url_check("https://93.184.215.14:8443/x")
    assert address_is_public("2606:4700:4700::1111")
    endpoint = webhook_endpoint_create(
        organization=tenant_a.organization, url="https://hooks.test/x",
        events=["invitation.completed"], actor=tenant_a.owner,
    )  # fmt: skip
    assert endpoint.events == ["invitation.completed"]


def test_subscribing_a_private_url_is_refused(strict, tenant_a):
    with pytest.raises(ValidationError) as error:
        webhook_endpoint_create(
            organization=tenant_a.organization, url="http://127.0.0.1:6379/",
            events=["invitation.completed"], actor=tenant_a.owner,
        )  # fmt: skip
    assert "url" in error.value.message_dict


def test_the_address_is_checked_again_at_delivery(strict, invitation, receiver):
    # Subscribed while local targets were allowed (or an address that changed since).
    endpoint_for(invitation.organization, receiver.url)
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    logged = attempt(delivery)
    assert logged.status_code is None and logged.error.startswith("refused:")
    assert "127.0.0.1" in logged.error and receiver.received == []
    assert delivery.status == "pending"


def test_dns_rebinding_after_subscription_is_refused(strict, dns, invitation, receiver):
    port = receiver.server.server_address[1]
    dns["rebind.test"] = "93.184.215.14"
    with tenant_context(invitation.organization):
        webhook_url_check(f"http://rebind.test:{port}/hooks")
    endpoint_for(invitation.organization, f"http://rebind.test:{port}/hooks")
    dns["rebind.test"] = "127.0.0.1"  # the name now points inside
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    logged = attempt(delivery)
    assert "rebind.test resolves to 127.0.0.1" in logged.error
    assert receiver.received == []


def test_the_connection_goes_to_the_address_that_was_checked(dns, invitation, receiver):
    # Allowed setting (tests' receiver): the request reaches the checked address, and the
    # Host header still names the host of the URL.
    port = receiver.server.server_address[1]
    dns["pinned.test"] = "127.0.0.1"
    endpoint_for(invitation.organization, f"http://pinned.test:{port}/hooks")
    delivery = WebhookDelivery.all_tenants.get(event=cancel(invitation))
    logged = attempt(delivery)
    assert logged.status_code == 200
    assert receiver.received[0].headers["host"] == f"pinned.test:{port}"
