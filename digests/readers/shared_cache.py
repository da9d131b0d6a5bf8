"""The shared cache for public requests that must work without it: fall back to this process's memory.

Rate limits (signup) and click and open de-duplication keep their counters in
the shared cache (Redis in production). When it does not answer, a reader's
request must still succeed: the counters move to a small in-process memory
cache (limits and de-duplication then hold per process, not site-wide), one
WARNING a minute at most says so, and ``/healthz`` reports it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache

log = logging.getLogger(__name__)
T = TypeVar("T")

LOG_EVERY_SECONDS = 60
# Per process and bounded: a rate-limit window or a click's 10-minute de-duplication needs no more.
fallback_cache = LocMemCache("digests-shared-cache-fallback", {"OPTIONS": {"MAX_ENTRIES": 20_000}})

_lock = threading.Lock()
_last_logged = float("-inf")
_last_failure: datetime | None = None


def shared_cache_call(what: str, operation: Callable[[Any], T]) -> T:
    """``operation(cache)`` on the shared cache, or on this process's fallback when the shared one fails.

    ``what`` names the feature that degrades (for the log line).
    """
    try:
        return operation(cache)
    except Exception as exc:  # redis-py and socket errors alike: the reader's request must not fail
        _note_failure(what, exc)
        return operation(fallback_cache)


def _note_failure(what: str, exc: Exception) -> None:
    global _last_logged, _last_failure
    now = time.monotonic()
    with _lock:
        _last_failure = datetime.now(UTC)
        if now - _last_logged < LOG_EVERY_SECONDS:
            return
        _last_logged = now
    log.warning(
        "cache unavailable (%s: %s): %s and the others fall back to per-process memory; "
        "logged at most once a minute while it lasts",
        type(exc).__name__,
        exc,
        what,
    )


def shared_cache_last_fallback() -> datetime | None:
    """When this process last fell back to its own memory, or None if it never did."""
    return _last_failure
