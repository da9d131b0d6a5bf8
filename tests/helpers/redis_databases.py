"""The Redis databases the test suite may empty: only those it claimed, never someone else's.

The suite uses the databases CELERY_BROKER_URL and CACHE_URL name. At the start
of a run it claims each one: a database that is empty, or already holds the
suite's marker key, becomes (or stays) the suite's; a database holding
anything else is refused and left untouched. Emptying a database between tests
goes through :func:`redis_database_flush`, which refuses a database without the
marker and writes the marker back after the flush.
"""

from __future__ import annotations

OWNER_KEY = "newsletter-tests:owner"
OWNER_VALUE = "this Redis database belongs to the newsletter's test suite, which empties it at will"


class NotTheSuitesDatabase(RuntimeError):
    """The database holds keys the test suite did not write: it belongs to someone else."""


def redis_url_of_cache(caches: dict) -> str | None:
    """The Redis URL of the default cache, or None when the cache is not Redis."""
    default = caches["default"]
    return default["LOCATION"] if default["BACKEND"].endswith("RedisCache") else None


def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=5)


def _refusal(url: str) -> NotTheSuitesDatabase:
    return NotTheSuitesDatabase(
        f"The Redis database {url} holds keys the test suite did not write, so the tests will not use (and empty) it. "
        "Point CELERY_BROKER_URL and CACHE_URL at two Redis databases for the tests alone, such as "
        "redis://127.0.0.1:6379/14 and redis://127.0.0.1:6379/15 (see the README). If this database is already the "
        "tests' own from before the suite marked its databases, empty it once yourself (redis-cli -n N flushdb)."
    )


def redis_database_claim(url: str) -> None:
    """Make the database ``url`` names the suite's if it is empty or already the suite's; else raise NotTheSuitesDatabase."""
    client = _client(url)
    if client.exists(OWNER_KEY):
        return
    with client.pipeline() as pipe:
        # Claim only what is empty at this instant: WATCH makes the check and the mark one step.
        pipe.watch(OWNER_KEY)
        if pipe.dbsize() != 0:
            raise _refusal(url)
        pipe.multi()
        pipe.set(OWNER_KEY, OWNER_VALUE)
        pipe.execute()


def redis_database_flush(url: str) -> None:
    """Empty a database the suite claimed, keeping the claim; raise NotTheSuitesDatabase for any other."""
    client = _client(url)
    if not client.exists(OWNER_KEY):
        raise _refusal(url)
    with client.pipeline(transaction=True) as pipe:
        pipe.flushdb()
        pipe.set(OWNER_KEY, OWNER_VALUE)
        pipe.execute()
