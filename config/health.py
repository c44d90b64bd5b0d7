"""GET /healthz: is the database, the broker and a worker for each queue reachable?"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from config.celery import HEARTBEAT_KEY, app


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "vendor": connection.vendor}


def _check_broker() -> dict:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            # The kind ("redis", "filesystem"), not the class that implements it.
            transport = conn.transport.driver_type
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "transport": str(transport)}


def _check_workers() -> dict:
    queues = [q.name for q in settings.CELERY_TASK_QUEUES]
    try:
        stamps = cache.get_many([HEARTBEAT_KEY.format(queue=q) for q in queues])
    except Exception as exc:
        return {"ok": False, "error": f"cache: {type(exc).__name__}: {exc}"}
    now = time.time()
    result: dict = {"ok": True, "queues": {}}
    for queue in queues:
        stamp = stamps.get(HEARTBEAT_KEY.format(queue=queue))
        age = None if stamp is None else round(now - stamp["at"], 1)
        alive = age is not None and age <= settings.WORKER_HEARTBEAT_STALE_SECONDS
        result["queues"][queue] = {"ok": alive, "last_heartbeat_seconds_ago": age}
        result["ok"] = result["ok"] and alive
    return result


@require_GET
def healthz(request):
    """Answer 200 when everything is reachable, 503 naming what is not."""
    checks = {
        "database": _check_database(),
        "broker": _check_broker(),
        "workers": _check_workers(),
    }
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
