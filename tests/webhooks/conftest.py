"""A webhook receiver of the tests' own (http.server on 127.0.0.1, in a thread) that checks
signatures with its own HMAC code, and fixtures of a published set and endpoints."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.tenancy import tenant_context
from assessments.models import Event, WebhookEndpoint
from tests.candidates.conftest import invite, publish_set


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


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


class Receiver:
    """Answers each POST with the next scripted reply (then 200 OK) and keeps what came."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    reply = receiver.replies.popleft() if receiver.replies else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                # The sender may stop reading (a bounded read, a timeout).
                with contextlib.suppress(OSError):
                    self.wfile.write(reply.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}")


@pytest.fixture
def receiver():
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def other_receiver():
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


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
