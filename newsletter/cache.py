"""Django's Redis cache, with one client per connection pool instead of one per call.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` for every cache
operation; building one (its table of reply parsers) costs more CPU than the
round trip it is for (0.28 ms against 0.19 ms here), and a signup makes
several. A client is thread-safe and holds no connection of its own, so one
per pool is enough.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _ClientPerPool(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class SharedRedisCache(RedisCache):
    """The Redis cache backend the settings name for ``CACHE_URL=redis://…``."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ClientPerPool

    def counter_incr(self, key: str, *, timeout: int) -> int:
        """Add one to the counter ``key`` (created at 0 with ``timeout`` seconds to live); the new count.

        One round trip, atomic (MULTI/EXEC): Django's ``add`` then ``incr`` take three.
        """
        key = self.make_and_validate_key(key)
        with self._cache.get_client(key, write=True).pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=timeout, nx=True)
            pipe.incr(key)
            return pipe.execute()[1]
