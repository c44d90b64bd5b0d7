"""Send a Celery task by its name, on the ``default`` queue.

Services send their own feature's tasks by name: a tasks module imports the services it
calls, so a service importing it back would close an import loop. Every name sent this way
is checked against the worker's registered tasks in ``tests/test_architecture.py``.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def task_send(name: str, *, countdown: float | None = None, **kwargs: Any) -> None:
    """Send task ``name`` with keyword arguments ``kwargs`` to the ``default`` queue."""
    current_app.send_task(
        name, kwargs=kwargs, countdown=countdown, queue="default", routing_key="default"
    )
