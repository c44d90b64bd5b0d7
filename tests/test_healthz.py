"""GET /healthz reports the database, the broker and a worker per queue; 503 when one is down."""

import time

import pytest
from django.db import connection

from config.celery import app


def _wait_healthy(client, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/healthz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


@pytest.mark.django_db(transaction=True)
def test_healthy_with_database_broker_and_a_worker(client, celery_worker):
    response = _wait_healthy(client)
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["checks"]["broker"]["ok"] is True
    assert set(body["checks"]["workers"]["queues"]) == {"default", "grading"}


@pytest.mark.django_db
def test_no_worker_heartbeat_is_503(client, settings):
    # A fresh cache key prefix hides the heartbeats any running worker writes.
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"no-worker-{time.time()}"}
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["workers"]["ok"] is False
    assert body["checks"]["workers"]["queues"]["grading"]["last_heartbeat_seconds_ago"] is None


@pytest.mark.django_db
def test_unreachable_broker_is_503(client, monkeypatch):
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


@pytest.mark.django_db
def test_unreachable_database_is_503(client, monkeypatch):
    from django.db.backends.postgresql.base import DatabaseWrapper

    broken = DatabaseWrapper({**connection.settings_dict, "PORT": "1"}, alias="broken")
    monkeypatch.setattr("config.health.connection", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False
    broken.close()
