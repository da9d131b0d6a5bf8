"""Render and inline each variant once per send; readers' copies are made from the shared result.

premailer costs tens of milliseconds per variant, so it must never run per
reader, nor once per worker process. ``variant_inlined`` looks a variant up in
three places, cheapest first:

1. a small per-process memo (a whole batch, and every later batch in this
   process, shares it);
2. Django's cache (Redis in production), shared by every worker process on
   every machine, keyed by the content fingerprint;
3. a render: the first process to need a variant takes a short lock in the
   cache (``cache.add``), renders and inlines, stores the result for a day and
   releases the lock; the others wait briefly and read it. A lock whose holder
   died expires after ``LOCK_SECONDS`` and the next process renders.

``email_personalise`` then fills in each reader's links.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from digests.links import PLACEHOLDER_LINKS
from digests.models import Digest
from digests.rendering.premail import premailer_calls
from digests.rendering.render import RenderedEmail, variant_render
from digests.rendering.sections import digest_content

__all__ = ["premailer_calls", "variant_inlined", "variants_forget"]

log = logging.getLogger(__name__)

# Enough for every (category set × language) a day's digests produce in one worker.
CACHE_SIZE = 256
# How long an inlined variant stays in the shared cache: a day's send and its retries.
SHARED_TTL_SECONDS = 24 * 3600
# A render takes well under a second; a lock older than this belongs to a dead process.
LOCK_SECONDS = 10
# How long a process waits for another's render before rendering itself anyway.
WAIT_SECONDS = LOCK_SECONDS + 5
POLL_SECONDS = 0.02
GENERATION_KEY = "variant:generation"

_MISSING = object()
_cache: OrderedDict[tuple, RenderedEmail | None] = OrderedDict()
_lock = threading.Lock()


def _cache_key(digest: Digest, category_ids: frozenset[int] | None, language: str | None) -> tuple:
    return (
        digest.pk,
        digest.updated_at,
        # A fingerprint of the items shown: editing an item changes the key even
        # when the digest row itself was not saved.
        digest_content(digest).fingerprint,
        None if category_ids is None else tuple(sorted(category_ids)),
        language or translation.get_language(),
        settings.TRACK_CLICKS,
        settings.TRACK_OPENS,
        settings.SITE_URL,
        settings.PUBLISHER_ADDRESS,
    )


def _shared_key(key: tuple) -> str:
    # repr() of the tuple is stable across processes (sorted ids, no sets);
    # the generation lets variants_forget() start every process cold.
    generation = cache.get(GENERATION_KEY) or ""
    return "variant:" + hashlib.sha256(f"{generation}|{key!r}".encode()).hexdigest()


def _shared_variant(digest: Digest, category_ids, language, key: tuple) -> RenderedEmail | None:
    """The variant from the shared cache, rendering it under the lock if nobody has yet."""
    shared = _shared_key(key)
    lock_key = shared + ":lock"
    token = uuid.uuid4().hex
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        # Stored as a 1-tuple so that "no items" (None) is a hit too.
        found = cache.get(shared)
        if found is not None:
            return found[0]
        if cache.add(lock_key, token, timeout=LOCK_SECONDS):
            try:
                found = cache.get(shared)  # stored between our miss and our lock
                if found is not None:
                    return found[0]
                rendered = variant_render(digest, category_ids, PLACEHOLDER_LINKS, language=language)
                cache.set(shared, (rendered,), timeout=SHARED_TTL_SECONDS)
                return rendered
            finally:
                if cache.get(lock_key) == token:
                    cache.delete(lock_key)
        if time.monotonic() >= deadline:
            log.warning("digest %s: waited %ss for another process's render; rendering here", digest.pk, WAIT_SECONDS)
            return variant_render(digest, category_ids, PLACEHOLDER_LINKS, language=language)
        time.sleep(POLL_SECONDS)


def variant_inlined(digest: Digest, category_ids: frozenset[int] | None, *, language: str | None = None) -> RenderedEmail | None:
    """The variant rendered with PLACEHOLDER_LINKS and inlined, computed at most once across all processes.

    Keyed by digest id, its update time and content fingerprint, the category
    set, the language and the tracking/site settings; returns None (also
    cached) when the variant has no items. When the shared cache is down, the
    variant is rendered in this process (once, then memoised) and sending goes
    on. Personalise the result with ``email_personalise``.
    """
    key = _cache_key(digest, category_ids, language)
    with _lock:
        cached = _cache.get(key, _MISSING)
        if cached is not _MISSING:
            _cache.move_to_end(key)
            return cached
    try:
        rendered = _shared_variant(digest, category_ids, language, key)
    except Exception:
        log.warning("digest %s: the shared variant cache failed; rendering in this process", digest.pk, exc_info=True)
        rendered = variant_render(digest, category_ids, PLACEHOLDER_LINKS, language=language)
    with _lock:
        _cache[key] = rendered
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return rendered


def variants_forget() -> None:
    """Start cold: empty this process's memo and make every shared variant unreachable (tests, benchmarks)."""
    with _lock:
        _cache.clear()
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        log.warning("could not reset the shared variant cache", exc_info=True)
