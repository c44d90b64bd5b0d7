"""Counters in fixed windows, counted atomically by concurrent web processes.

With Redis (``REDIS_URL``), a window's counter is one key: ``add`` creates it with its
expiry (SET NX EX) and ``incr`` counts (INCR), each a single Redis command. The embedded
default keeps the cache in the database, whose ``incr`` reads then writes: there the count
is taken inside a transaction that serializes writers (SQLite's IMMEDIATE transactions; a
transaction-scoped advisory lock on PostgreSQL), so no concurrent update is lost.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction

RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    window_seconds: int

    @classmethod
    def parse(cls, rate: str) -> Rate:
        """Read ``"N/second"``, ``"N/minute"``, ``"N/hour"`` or ``"N/day"``."""
        count, _, period = rate.partition("/")
        return cls(int(count), RATE_PERIODS[period.strip()[0]])


@dataclass(frozen=True)
class Window:
    count: int
    seconds_left: float


def _window_key(key: str, rate: Rate, now: float) -> tuple[str, float]:
    index, elapsed = divmod(now, rate.window_seconds)
    return f"ratelimit:{key}:{rate.window_seconds}:{int(index)}", rate.window_seconds - elapsed


def rate_window_read(key: str, rate: Rate) -> Window:
    """Return the count of ``key``'s current window without counting."""
    cache_key, seconds_left = _window_key(key, rate, time.time())
    return Window(int(caches["default"].get(cache_key, 0)), seconds_left)


def rate_window_count(key: str, rate: Rate) -> Window:
    """Count one hit in ``key``'s current window and return the window's count."""
    cache_key, seconds_left = _window_key(key, rate, time.time())
    timeout = rate.window_seconds + 1
    cache = caches["default"]
    if isinstance(cache, DatabaseCache):
        return Window(_database_increment(cache, cache_key, timeout), seconds_left)
    for _ in range(3):
        cache.add(cache_key, 0, timeout=timeout)
        try:
            return Window(cache.incr(cache_key), seconds_left)
        except ValueError:
            continue  # it expired between add and incr: start the window again
    raise RuntimeError(f"could not count {cache_key}")


def _database_increment(cache: DatabaseCache, cache_key: str, timeout: int) -> int:
    alias = router.db_for_write(cache.cache_model_class)
    with transaction.atomic(using=alias):
        connection = connections[alias]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                lock_id = zlib.crc32(cache_key.encode())
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
        # On SQLite the transaction itself holds the database's write lock (IMMEDIATE mode).
        count = int(cache.get(cache_key, 0)) + 1
        cache.set(cache_key, count, timeout=timeout)
    return count
