"""Bench only: say in each response how much CPU the worker spent on it (Server-Timing).

`make bench-load` sets ``SERVER_TIMING_CPU=1`` so the load generator can tell CPU per answer,
per page and per ``/healthz`` apart within one mixed run: latency on a shared 2-core machine
says little about cost, CPU per request does, and ratios taken in the same run hold however
busy the machine is. The clock is the thread's own (``CLOCK_THREAD_CPUTIME_ID``): with
gunicorn's sync workers one thread serves one request at a time, so it counts exactly this
request's work, from the WSGI call to the response's headers (every middleware, the view, its
queries' client side and the rendering), and nothing another process or thread did meanwhile.
Not counted: gunicorn's parsing and writing of the HTTP message, and Django's
``request_finished`` handlers, which are the same for every URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

HEADER = "Server-Timing"


def cpu_timed(application: Callable) -> Callable:
    """Wrap a WSGI application to add ``Server-Timing: cpu;dur=<ms>`` to every response."""

    def timed(environ: dict, start_response: Callable) -> Iterable[bytes]:
        began = time.thread_time()

        def start_with_timing(status: str, headers: list, exc_info=None):
            spent_ms = (time.thread_time() - began) * 1000
            headers.append((HEADER, f"cpu;dur={spent_ms:.3f}"))
            return start_response(status, headers, exc_info)

        return application(environ, start_with_timing)

    return timed
