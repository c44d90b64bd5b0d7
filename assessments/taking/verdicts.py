"""Is a code answer's verdict still on its way? Answered from the cache, without the database.

A code answer is graded by a worker; the page asks until the verdict is stored. Those
questions come often (the first soon after the answer, so a quick job shows at once), so
the answer is a cache key per session and question: set when the answer is stored (before
its job is sent, so a fast worker cannot clear it first), cleared once the verdict is
committed. The key only ever says "still grading": the database stays the truth. A key
left behind (a transaction that failed after setting it) expires after
``PENDING_SECONDS``, and an unreachable cache reads as "ask the database".
"""

from __future__ import annotations

import hashlib
import logging

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

PENDING_SECONDS = 30

# How the page asks (static/js/take.js reads these from the page): first after this many
# milliseconds, then each wait this many times longer, up to the cap.
POLL_FIRST_MS = 100
POLL_FACTOR = 1.5
POLL_MAX_MS = 2000


def _key(token: str, position: int) -> str:
    # The token is the candidate's credential: the cache keeps a digest of it, not the token.
    digest = hashlib.blake2b(token.encode(), digest_size=12).hexdigest()
    return f"take:grading:{digest}:{position}"


def verdict_pending_mark(*, token: str, position: int) -> None:
    """Note that an answer of this question is being graded (inside the answer's transaction)."""
    try:
        cache.set(_key(token, position), 1, PENDING_SECONDS)
    except Exception:  # the database path still answers, only at a higher cost
        logger.warning("cache unavailable: verdict poll falls back to the database")


def verdict_pending_clear(*, token: str, position: int) -> None:
    """Forget the note once the verdict's transaction commits."""

    def clear() -> None:
        try:
            cache.delete(_key(token, position))
        except Exception:  # it expires on its own
            logger.warning("cache unavailable: a verdict note expires instead")

    transaction.on_commit(clear)


def verdict_pending(*, token: str, position: int) -> bool:
    """Return True only when the cache says the verdict is still on its way."""
    try:
        return cache.get(_key(token, position)) is not None
    except Exception:
        return False
