"""The Redis cache: one client per connection pool, counters in one round trip."""

import pytest
from django.core.cache import cache


@pytest.fixture
def redis_cache():
    if not hasattr(cache, "counter_incr"):
        pytest.skip("the cache is not Redis")
    return cache


def test_cache_calls_share_one_client_instead_of_building_one_each(redis_cache):
    # Building a redis.Redis costs more CPU than the round trip it is for; a signup makes several calls.
    assert redis_cache._cache.get_client(write=True) is redis_cache._cache.get_client(write=True)
    redis_cache.set("test-cache:value", {"a": 1}, 30)
    assert redis_cache.get("test-cache:value") == {"a": 1}


def test_a_counter_starts_at_one_keeps_its_expiry_and_reads_back_through_the_cache(redis_cache):
    assert [redis_cache.counter_incr("test-cache:counter", timeout=40) for _ in range(3)] == [1, 2, 3]
    assert redis_cache.get("test-cache:counter") == 3
    client = redis_cache._cache.get_client(write=True)
    assert 0 < client.ttl(redis_cache.make_key("test-cache:counter")) <= 40


def test_a_new_thread_uses_the_process_connection_to_redis_instead_of_opening_its_own(redis_cache):
    # Django keeps a cache backend per thread; a send starts threads for every batch, and each used
    # to connect to Redis anew (about a millisecond of CPU) and leave the connection to the garbage collector.
    import threading

    used = []

    def work():
        redis_cache.set("test-cache:thread", 1, 30)
        used.append(redis_cache._cache.get_client(write=True).client_id())  # the server's id for the connection used

    for _ in range(10):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(used) == 10 and len(set(used)) == 1
