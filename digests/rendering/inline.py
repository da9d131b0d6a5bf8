"""Render and inline each variant once; readers' copies are made from the cached result.

premailer costs tens of milliseconds per variant, so it must never run per
reader. ``variant_inlined`` keeps the placeholder-linked rendering of each
(digest content, category set, language, tracking settings) in a small
process-wide cache that a whole batch (and every later batch in this worker)
shares; ``email_personalise`` then fills in each reader's links.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.conf import settings
from django.utils import translation

from digests.models import Digest
from digests.rendering.content import digest_content
from digests.rendering.links import PLACEHOLDER_LINKS
from digests.rendering.premail import premailer_calls
from digests.rendering.render import RenderedEmail, variant_render

__all__ = ["premailer_calls", "variant_inlined", "variants_forget"]

# Enough for every (category set × language) a day's digests produce in one worker.
CACHE_SIZE = 256
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
        None if category_ids is None else frozenset(category_ids),
        language or translation.get_language(),
        settings.TRACK_CLICKS,
        settings.TRACK_OPENS,
        settings.SITE_URL,
        settings.PUBLISHER_ADDRESS,
    )


def variant_inlined(
    digest: Digest, category_ids: frozenset[int] | None, *, language: str | None = None
) -> RenderedEmail | None:
    """The variant rendered with PLACEHOLDER_LINKS and inlined, computed at most once per process.

    Keyed by digest id, its update time and content fingerprint, the category
    set and the language; returns None (also cached) when the variant has no
    items. Personalise the result with ``email_personalise``.
    """
    key = _cache_key(digest, category_ids, language)
    with _lock:
        cached = _cache.get(key, _MISSING)
        if cached is not _MISSING:
            _cache.move_to_end(key)
            return cached
    # Rendered outside the lock; two threads racing on a cold key may both
    # render it once, which is harmless.
    rendered = variant_render(digest, category_ids, PLACEHOLDER_LINKS, language=language)
    with _lock:
        _cache[key] = rendered
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return rendered


def variants_forget() -> None:
    """Empty the process's variant cache (tests and the benchmark start cold)."""
    with _lock:
        _cache.clear()
