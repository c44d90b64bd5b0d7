"""The rate limits hold under concurrency: 16 clients at once on a live server, on Redis and
on the database cache of the embedded default; failed authentications are limited per
client address on /api/ and /greenhouse/."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 16
LIMIT = 120


def _get(url: str, authorization: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, headers={"Authorization": authorization})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), {}
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def _hammer(url: str, authorization: str, total: int) -> list[tuple[int, dict, dict]]:
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(lambda _: _get(url, authorization), range(total)))


def _away_from_a_window_edge(seconds: int) -> None:
    """Start where the fixed window will not end during the test."""
    left = seconds - time.time() % seconds
    if left < 60:
        time.sleep(left + 0.5)


def _assert_throttled_shape(answers) -> None:
    throttled = [(headers, body) for status, headers, body in answers if status == 429]
    assert throttled
    for headers, body in throttled[:20]:
        assert headers["Content-Type"].startswith("application/json")
        assert body["error"]["code"] == "throttled" and body["error"]["status"] == 429
        assert int(headers["Retry-After"]) >= 1
        assert body["error"]["retry_after"] == int(headers["Retry-After"])


@pytest.fixture
def database_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_entries",
        }
    }
    call_command("createcachetable")


@pytest.mark.parametrize("backend", ["redis", "database"])
def test_the_per_key_limit_holds_under_16_concurrent_clients(
    request, backend, live_server, key_a, settings
):
    if backend == "database":
        request.getfixturevalue("database_cache")
    settings.API_RATE_LIMIT = f"{LIMIT}/hour"
    _away_from_a_window_edge(3600)
    answers = _hammer(f"{live_server.url}/api/v1/assessments/", f"Bearer {key_a}", LIMIT * 3)
    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) == {200, 429}, statuses
    assert statuses[200] == LIMIT, statuses  # not one lost update
    _assert_throttled_shape(answers)


def _clear_failure_counters() -> None:
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    for key in client.scan_iter("*ratelimit:auth-failures*"):
        client.delete(key)


def test_failed_authentications_are_limited_per_address(live_server, key_a, settings):
    settings.API_AUTH_FAILURE_LIMIT = "30/hour"
    _clear_failure_counters()
    _away_from_a_window_edge(3600)
    try:
        attempts = [
            ("/api/v1/invitations/", "Bearer mla_nope_nope"),
            ("/api/v1/invitations/", "Bearer " + key_a[:-2] + "xx"),
            ("/api/v1/invitations/", "Token abc"),
            ("/greenhouse/list_tests", "Basic " + base64.b64encode(b"mla_bad_key:").decode()),
            ("/greenhouse/list_tests", "Basic %%%"),
        ]
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(
                pool.map(
                    lambda n: _get(live_server.url + attempts[n % 5][0], attempts[n % 5][1]),
                    range(200),
                )
            )
        statuses = Counter(status for status, _, _ in answers)
        assert set(statuses) == {401, 429}, statuses
        assert statuses[401] <= 30 + CLIENTS, statuses  # a check races its own count, no more
        _assert_throttled_shape(answers)
        # Over the limit, the address is refused before any key is checked: guessing stops.
        status, _, _ = _get(f"{live_server.url}/api/v1/invitations/", f"Bearer {key_a}")
        assert status == 429
    finally:
        _clear_failure_counters()


def test_a_valid_key_is_not_counted_as_a_failure(live_server, key_a, settings):
    settings.API_AUTH_FAILURE_LIMIT = "5/hour"
    _clear_failure_counters()
    try:
        answers = _hammer(f"{live_server.url}/api/v1/assessments/", f"Bearer {key_a}", 40)
        assert {status for status, _, _ in answers} == {200}
    finally:
        _clear_failure_counters()
