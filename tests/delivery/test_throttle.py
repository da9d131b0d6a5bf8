"""One global send rate, held in Redis, shared by every worker (senders on separate connections)."""

import logging
import time

import pytest
from django.conf import settings

from digests.delivery import throttle
from digests.delivery.throttle import throttle_wait

RATE = 50
SECONDS = 2.0
BURST = RATE * 1  # throttle_wait lets one second's worth go at once after a quiet spell

needs_redis = pytest.mark.skipif(not settings.CACHE_URL.startswith("redis"), reason="needs Redis (CACHE_URL=redis://…)")


def _acquire_for(seconds, rate, start, results):
    start.wait(10)
    end, count = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        throttle_wait(1, rate=rate)
        count += 1
    results.put(count)


def _acquire_in_processes(n, seconds, rate):
    """``n`` concurrent senders, each on its own Redis connection (threads: a forked child could
    inherit a lock held by another test's server thread and hang)."""
    import queue
    import threading

    import redis

    redis.Redis.from_url(settings.CACHE_URL).delete(throttle.KEY)
    start, results = threading.Event(), queue.Queue()
    senders = [threading.Thread(target=_acquire_for, args=(seconds, rate, start, results)) for _ in range(n)]
    for sender in senders:
        sender.start()
    start.set()
    counts = [results.get(timeout=seconds + 10) for _ in senders]
    for sender in senders:
        sender.join(10)
    return counts


@needs_redis
def test_two_worker_processes_together_send_at_the_global_rate():
    counts = _acquire_in_processes(2, SECONDS, RATE)
    expected = BURST + RATE * SECONDS  # 150: the burst, then 50 a second for both together
    assert expected * 0.85 <= sum(counts) <= expected * 1.1, counts
    # The limit is shared, not per process: neither got the whole rate to itself.
    assert all(0 < count < expected * 0.85 for count in counts), counts


@needs_redis
def test_a_rate_of_zero_means_no_limit():
    counts = _acquire_in_processes(2, 0.3, 0)
    assert all(count > 1000 for count in counts), counts


def test_without_redis_the_rate_is_kept_per_process_and_the_log_says_so(settings, caplog, monkeypatch):
    settings.CACHE_URL = "locmem://"
    monkeypatch.setattr(throttle, "_warned", [False])
    monkeypatch.setattr(throttle, "_local_next", [0.0])
    slept = []
    with caplog.at_level(logging.WARNING, logger="digests.delivery.throttle"):
        for _ in range(20):
            throttle_wait(1, rate=10, sleep=slept.append)
    # One second of burst (10 messages), then 10 a second: the last of 20 waits about a second.
    assert len(slept) == 10 and 0.9 <= max(slept) <= 1.05
    warnings = [r for r in caplog.records if "per process" in r.getMessage()]
    assert len(warnings) == 1
