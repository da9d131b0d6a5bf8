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


class NoSuchDatabase(NotTheSuitesDatabase):
    """The server has no database of that number (16 by default: 0 to 15)."""


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
        "redis://127.0.0.1:6379/12 and redis://127.0.0.1:6379/13 (the second test process takes 14 and 15; see the README). "
        "If this database is already the tests' own from before the suite marked its databases, empty it once yourself "
        "(redis-cli -n N flushdb)."
    )


def redis_database_claim(url: str) -> None:
    """Make the database ``url`` names the suite's if it is empty or already the suite's; else raise NotTheSuitesDatabase."""
    import redis

    client = _client(url)
    try:
        if client.exists(OWNER_KEY):
            return
    except redis.ResponseError as exc:  # SELECT refused
        raise NoSuchDatabase(
            f"The Redis database {url} does not exist on its server ({exc}). With -n N (make test runs two "
            "processes) test process k uses each database number CELERY_BROKER_URL and CACHE_URL give, moved up by k "
            "times their span: 14 and 15 become 16 and 17 for the second process. Give lower numbers, such as 12 and "
            "13, or run one process (make test TEST_PROCESSES=0)."
        ) from exc
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


def redis_urls_for_process(urls: list[str], index: int) -> dict[str, str]:
    """The Redis URLs test process ``index`` (0, 1, …, as pytest-xdist numbers them) uses instead of ``urls``.

    Process 0 keeps the databases given; process k moves each database number up by k times the
    span the given ones cover on their server (0 and 1 → 2 and 3 for process 1), so no two
    processes share a database, and each one claims and empties only its own."""
    from urllib.parse import urlsplit

    from redis.connection import parse_url

    def number(url):
        return parse_url(url).get("db", 0)

    def server(url):
        parts = urlsplit(url)
        return parts.scheme, parts.netloc

    redis_urls = [u for u in dict.fromkeys(urls) if u and u.startswith(("redis://", "rediss://"))]
    moved = {}
    for url in redis_urls:
        same_server = [number(u) for u in redis_urls if server(u) == server(url)]
        span = max(same_server) - min(same_server) + 1
        moved[url] = urlsplit(url)._replace(path=f"/{number(url) + index * span}").geturl()
    return moved
