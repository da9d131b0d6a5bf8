"""Fixed-window rate limits held in Django's cache (Redis in production).

Rates are written ``N/s``, ``N/m``, ``N/h`` or ``N/d`` (settings
SIGNUP_RATE_PER_IP and SIGNUP_RATE_PER_ADDRESS). The identity is hashed
before it becomes a cache key, so neither addresses nor IPs sit in Redis.
When the cache is down the counts fall back to this process's memory
(``shared_cache``): limits then hold per process instead of site-wide.
"""

from __future__ import annotations

import hashlib
import time

from digests.readers.shared_cache import shared_cache_call
from newsletter.env import rate_parse


def rate_limit_allows(scope: str, identity: str, rate: str, *, setting: str = "rate") -> bool:
    """Count one attempt for ``identity`` in ``scope``; False once it exceeds ``rate`` in the current window."""
    limit, period = rate_parse(rate, setting=setting)
    window = int(time.time() // period)
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
    key = f"ratelimit:{scope}:{digest}:{window}"

    def count(store) -> int:
        if hasattr(store, "counter_incr"):  # the Redis cache (newsletter.cache): one round trip
            return store.counter_incr(key, timeout=period + 1)
        # add() is a no-op when the key exists, so concurrent first hits both count.
        store.add(key, 0, timeout=period + 1)
        try:
            return store.incr(key)
        except ValueError:
            # The key expired between add() and incr(): this is the first hit of a new window.
            store.set(key, 1, timeout=period + 1)
            return 1

    return shared_cache_call("signup rate limits", count) <= limit
