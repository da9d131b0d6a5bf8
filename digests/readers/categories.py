"""The categories offered to readers, read from the shared cache instead of the database on every page.

The signup page and its POST (and the preference centre) need the active
categories; they change a few times a year, the pages are hit hundreds of
times a second. The list sits in the shared cache (Redis in production) and
is dropped whenever a category is saved or deleted, at once and again after
the transaction commits, so a page that reads between the two cannot keep an
old list. Dropping it means a new version under which pages look it up: a
slow page that read the old list before the commit and stores it after the
drop stores it under the old version, which nobody reads any more. Without
the cache, the database is read as before.

Each process also remembers the last list it read with its version, so a page
asks the shared cache only for the version (one short round trip, no list to
unpickle). An emptied cache starts a new version, and what a process
remembers is dropped after the same backstop as the shared entry.
"""

from __future__ import annotations

import functools
import time
import uuid

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from digests.models import Category

CACHE_KEY = "readers:active-categories:v1:{version}"
VERSION_KEY = "readers:active-categories:version"
# Only a backstop: every change drops the entry itself.
CACHE_SECONDS = 3600
_FIELDS = [field.attname for field in Category._meta.concrete_fields]
# This process's last read: (version, rows, when it was read).
_remembered: tuple[str, list, float] | None = None


@functools.cache
def _active_categories() -> QuerySet[Category]:
    # Built once per process: building the filter and ordering costs more than copying the result.
    return Category.objects.filter(is_active=True).order_by("position", "id")


def active_categories() -> QuerySet[Category]:
    """The categories readers may choose, in the order they are offered (not yet read)."""
    return _active_categories().all()


def active_categories_read() -> QuerySet[Category]:
    """``active_categories()`` with its rows already in hand: from the shared cache when it has them.

    The queryset behaves as one that was iterated: iterating, ``exists()`` and ``len()`` read
    nothing more; filtering it further reads the database as usual.
    """
    global _remembered
    queryset = active_categories()
    try:
        version = _version()
        remembered = _remembered
        if remembered and remembered[0] == version and time.monotonic() - remembered[2] < CACHE_SECONDS:
            rows = remembered[1]
        else:
            rows = _shared_rows(queryset, version)
            _remembered = (version, rows, time.monotonic())
    except Exception:  # no cache: read the database, as without one (and do not try to write it either)
        rows = list(queryset.values_list(*_FIELDS))
    queryset._result_cache = [Category.from_db(queryset.db, _FIELDS, row) for row in rows]
    queryset._prefetch_done = True
    return queryset


def _version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        # An empty cache (new, flushed, restarted): a new version, so no process keeps what it remembered.
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def _shared_rows(queryset: QuerySet[Category], version: str) -> list:
    key = CACHE_KEY.format(version=version)
    rows = cache.get(key)
    if rows is None:
        rows = list(queryset.values_list(*_FIELDS))
        try:
            cache.set(key, rows, timeout=CACHE_SECONDS)
        except Exception:
            pass
    return rows


def active_categories_forget(**_signal_kwargs) -> None:
    """Drop the cached list now and once the current transaction commits (receiver of Category's save and delete)."""
    _forget()
    transaction.on_commit(_forget)


def _forget() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # no cache: nothing cached to drop
        pass
