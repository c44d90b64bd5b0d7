"""Greenhouse as the platform sees it: a client that calls with HTTP Basic (the API key as
user name, an empty password), and a receiver (http.server on 127.0.0.1, in a thread) for
the completion PATCH."""

from __future__ import annotations

import base64
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from tests.candidates.conftest import publish_set

PROFILE_URL = "https://app.greenhouse.io/people/17681532?application_id=26234709"


def basic(key: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()


def greenhouse_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(key))
    return client


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Greenhouse's side of the callback: answers each request with the next scripted
    status (then 200) and keeps what came."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: deque[int] = deque()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    status = receiver.statuses.popleft() if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PATCH = do_POST = do_PUT = do_GET = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, test_id: int = 12345) -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}/integrations/testing_partners/take_home_tests/{test_id}"

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
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
