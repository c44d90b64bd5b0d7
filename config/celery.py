"""The Celery application, and the heartbeat that lets /healthz see live workers."""

from __future__ import annotations

import os
import socket
import time

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("ml_assess")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_KEY = "worker-heartbeat:{queue}"


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Write "a worker consumes queue Q" to the cache every few seconds.

    Celery's own ping needs a broadcast-capable broker; the embedded filesystem broker has
    none, so a heartbeat in the shared cache works the same way on every transport.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        interval = settings.WORKER_HEARTBEAT_SECONDS
        self.beat(worker)
        self.tref = worker.timer.call_repeatedly(interval, self.beat, (worker,), priority=10)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    def beat(self, worker):
        from django.conf import settings
        from django.core.cache import cache

        queues = [q.name for q in worker.app.amqp.queues.consume_from.values()] or ["default"]
        stamp = {"host": worker.hostname or socket.gethostname(), "at": time.time()}
        ttl = settings.WORKER_HEARTBEAT_STALE_SECONDS
        try:
            cache.set_many({HEARTBEAT_KEY.format(queue=q): stamp for q in queues}, ttl)
        except Exception:
            worker.app.log.get_default_logger().warning("heartbeat not written", exc_info=True)


app.steps["worker"].add(WorkerHeartbeat)
