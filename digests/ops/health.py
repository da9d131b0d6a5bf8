"""Is the stack working? The database answers, the broker accepts connections, beat ticks.

``/healthz`` and the ``healthcheck`` command both call :func:`health_report`. Failure
details go to the log, not the response: the endpoint is public and must not reveal
internal host names.
"""

from __future__ import annotations

import functools
import logging
import os
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from digests.readers.outbox import transactional_emails_owed_count
from digests.readers.shared_cache import shared_cache_last_fallback

logger = logging.getLogger(__name__)

OK, ERROR = "ok", "error"
BEAT_STALE_AFTER = timedelta(minutes=3)
BROKER_CONNECT_TIMEOUT_SECONDS = 2.0
DEVELOPMENT_TRANSPORTS = {"filesystem", "memory"}
BEAT_TICK_KEY = "beat:last-tick"
CACHE_FALLBACK_RECENT = timedelta(minutes=5)


def beat_tick() -> None:
    """Record that beat's per-minute dispatcher ran (the dispatch task calls this)."""
    cache.set(BEAT_TICK_KEY, timezone.now().isoformat(), timeout=None)


def database_status() -> str:
    """``ok`` when the default database answers ``SELECT 1``, else ``error``."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not healthy"; the log says which
        logger.warning("health: database check failed: %s: %s", type(exc).__name__, exc)
        return ERROR
    return OK


def broker_transport() -> str:
    """The broker's transport name from CELERY_BROKER_URL: ``redis``, ``filesystem``…"""
    return settings.CELERY_BROKER_URL.split("://", 1)[0].split("+", 1)[0] or "unknown"


def broker_status() -> str:
    """``ok`` when the Celery broker answers, else ``error``.

    A Redis broker is pinged over one client kept per process (its connection
    is reused from request to request); other transports get one short
    connection attempt.
    """
    url = settings.CELERY_BROKER_URL  # from settings, not app.conf (which Celery caches), so tests can move it
    try:
        if broker_transport() in ("redis", "rediss"):
            _redis_client(url).ping()
        else:
            from newsletter.celery import app

            with app.connection_for_write(url, connect_timeout=BROKER_CONNECT_TIMEOUT_SECONDS) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_CONNECT_TIMEOUT_SECONDS)
    except Exception as exc:
        logger.warning("health: broker check failed: %s: %s", type(exc).__name__, exc)
        return ERROR
    return OK


@functools.cache
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=BROKER_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=BROKER_CONNECT_TIMEOUT_SECONDS,
        client_name=f"healthz-{os.getpid()}",
        health_check_interval=30,
    )


def beat_last_tick() -> datetime | None:
    """When the beat-driven dispatcher last ran (read from the shared cache), or None if never."""
    raw = cache.get(BEAT_TICK_KEY)
    if not raw:
        return None
    try:
        tick = datetime.fromisoformat(str(raw))
    except ValueError:
        logger.warning("health: unreadable beat tick %r", raw)
        return None
    return tick if timezone.is_aware(tick) else tick.replace(tzinfo=UTC)


def beat_status(last_tick: datetime | None, *, now: datetime | None = None) -> str:
    """``ok`` if the dispatcher ran in the last 3 minutes, ``stale`` if longer ago, ``unknown`` if never."""
    if last_tick is None:
        return "unknown"
    now = now or timezone.now()
    return OK if now - last_tick <= BEAT_STALE_AFTER else "stale"


def health_report() -> dict:
    """Every check with its status, ``healthy`` overall, and notes for development set-ups.

    Healthy means: database and broker ok, cache reachable, and beat not stale
    ("unknown" is fine: a fresh stack has not ticked yet).
    """
    report: dict = {"database": database_status(), "broker": broker_status()}
    if report["database"] == OK:
        # Emails owed past their grace period: non-zero while the broker or the mail server is down.
        report["transactional_emails_owed"] = transactional_emails_owed_count()
    try:
        last_tick = beat_last_tick()
        report["cache"] = OK
    except Exception as exc:
        logger.warning("health: cache check failed: %s: %s", type(exc).__name__, exc)
        last_tick = None
        report["cache"] = ERROR
    last_fallback = shared_cache_last_fallback()
    if report["cache"] != OK or (last_fallback and timezone.now() - last_fallback < CACHE_FALLBACK_RECENT):
        # Public pages keep working without the cache; say what is weaker meanwhile.
        report["degraded"] = {
            "rate_limits": "per-process memory",
            "click_deduplication": "per-process memory",
            "last_fallback": last_fallback.isoformat() if last_fallback else None,
        }
    report["beat"] = beat_status(last_tick) if report["cache"] == OK else "unknown"
    report["beat_last_tick"] = last_tick.isoformat() if last_tick else None
    report["broker_transport"] = broker_transport()

    notes = []
    if report["broker_transport"] in DEVELOPMENT_TRANSPORTS:
        notes.append(
            f"The Celery broker is {report['broker_transport']}:// (development, one machine only); use redis:// in production."
        )
    if "sqlite" in settings.DATABASES["default"]["ENGINE"]:
        notes.append("The database is SQLite (development only); use PostgreSQL in production.")
    if notes:
        report["notes"] = notes

    report["healthy"] = (
        report["database"] == OK and report["broker"] == OK and report["cache"] == OK and report["beat"] != "stale"
    )
    return report
