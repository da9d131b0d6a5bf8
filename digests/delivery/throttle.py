"""A global send rate shared by every worker on every machine, held in Redis.

Celery's ``rate_limit`` is per worker; a provider's limit is per account. Each
worker reserves send slots from one Redis key (a generic cell rate algorithm in
a Lua script, so reservation is atomic and uses Redis's clock) and sleeps until
its slots come up. With DELIVERY_RATE_PER_SECOND = 0 nothing is limited. When
the cache is not Redis (a laptop install), the limit is kept per process: there
is only one machine then, and a worker with concurrency N may send N times the
rate, which the log says once.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings

log = logging.getLogger(__name__)

KEY = "delivery:throttle"

# KEYS[1]: the theoretical arrival time of the next free slot, in microseconds.
# ARGV[1]: slots wanted; ARGV[2]: microseconds per slot; ARGV[3]: burst in microseconds.
# Returns the microseconds the caller must wait before using its slots.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
local wait = new_tat - now - tonumber(ARGV[3])
if wait < 0 then wait = 0 end
return wait
"""

_local = threading.Lock()
_local_next = [0.0]
_warned = [False]
_script = {}


def _redis_script():
    url = settings.CACHE_URL
    if urlsplit(url).scheme not in ("redis", "rediss"):
        return None
    script = _script.get(url)
    if script is None:
        import redis

        script = _script[url] = redis.Redis.from_url(url).register_script(_GCRA)
    return script


def throttle_wait(slots: int, *, rate: float | None = None, sleep=time.sleep) -> float:
    """Block until ``slots`` messages may be sent under the global rate; returns seconds waited."""
    rate = settings.DELIVERY_RATE_PER_SECOND if rate is None else rate
    if rate <= 0 or slots <= 0:
        return 0.0
    per_slot = 1.0 / rate
    # One second of burst: a batch starts at once after a quiet spell.
    burst = 1.0
    script = _redis_script()
    if script is not None:
        wait = int(script(keys=[KEY], args=[slots, int(per_slot * 1_000_000), int(burst * 1_000_000)])) / 1_000_000
    else:
        if not _warned[0]:
            log.warning("DELIVERY_RATE_PER_SECOND is enforced per process: CACHE_URL is not Redis.")
            _warned[0] = True
        with _local:
            now = time.monotonic()
            start = max(_local_next[0], now)
            _local_next[0] = start + slots * per_slot
            wait = max(0.0, _local_next[0] - now - burst)
    if wait > 0:
        sleep(wait)
    return wait
