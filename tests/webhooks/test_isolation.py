"""A failing endpoint never delays a healthy one: 25 endpoints that hang past the timeout or
refuse connections, and one healthy endpoint, in one organization, with a real worker."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from assessments.models import WebhookDelivery
from tests.webhooks.conftest import endpoint_for
from tests.webhooks.test_worker import cancel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


class Hanging:
    """Accept connections and never answer (each attempt waits out the read timeout)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.accepted: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                return

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"

    def close(self) -> None:
        self.running = False
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"  # nothing listens after this


def test_a_healthy_endpoint_is_not_delayed_by_25_failing_ones(invitation, receiver, celery_worker):
    hanging = Hanging()
    try:
        organization = invitation.organization
        for n in range(25):
            endpoint_for(organization, hanging.url if n % 5 else _refused_url())
        endpoint_for(organization, receiver.url)
        started = time.monotonic()
        cancel(invitation)
        (request,) = receiver.wait_for(1, timeout=30)
        latency = request.at - started  # both on the monotonic clock
        assert latency < 2.0, f"the healthy endpoint waited {latency:.1f} s"
        # The failing ones were attempted too, each on its own schedule.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            attempted = WebhookDelivery.all_tenants.filter(attempts__gte=1).count()
            if attempted == 26:
                break
            time.sleep(0.2)
        assert attempted == 26
    finally:
        hanging.close()
        _wait_until_every_delivery_ended()


def _wait_until_every_delivery_ended(timeout: float = 60) -> None:
    """Let the worker finish (refused now, quickly) before the test's tables are emptied."""
    deadline = time.monotonic() + timeout
    while WebhookDelivery.all_tenants.filter(status=WebhookDelivery.Status.PENDING).exists():
        assert time.monotonic() < deadline, "deliveries still pending"
        time.sleep(0.2)
    time.sleep(0.5)  # the last attempt's commit and its follow-up query
