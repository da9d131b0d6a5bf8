"""The crash journal: how far a batch got, kept in the shared cache while it sends.

After every provider call a batch writes one short string (an outcome code
per claimed id, in id order) and a deadline by which its next call will have
returned. If the worker dies, the sweeper reads it: what was sent is marked
sent, what was never attempted goes back to pending, and the one message
whose call was in flight is *ambiguous* (see ledger.py).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

JOURNAL_KEY = "delivery:journal:{token}"


def _ttl() -> int:
    return settings.DELIVERY_LEASE_SECONDS * 4


def journal_write(token: str, codes: str, *, busy_for: float) -> None:
    """Record progress: ``codes`` for the first len(codes) claimed ids (in id order), and that the
    next provider call will have returned within ``busy_for`` seconds."""
    deadline = timezone.now().timestamp() + busy_for
    cache.set(JOURNAL_KEY.format(token=token), f"{deadline:.3f}|{codes}", timeout=_ttl())


def journal_read(token: str) -> tuple[float, str] | None:
    """(deadline as a timestamp, codes) for a claim, or None when it has no journal."""
    value = cache.get(JOURNAL_KEY.format(token=token))
    if not value:
        return None
    deadline, _, codes = value.partition("|")
    return float(deadline), codes


def journal_expire(token: str) -> None:
    """Declare that no call of this claim is in flight any more (the sweeper may settle it now)."""
    journal = journal_read(token)
    codes = journal[1] if journal else ""
    cache.set(JOURNAL_KEY.format(token=token), f"0|{codes}", timeout=_ttl())


def journal_forget(token: str) -> None:
    cache.delete(JOURNAL_KEY.format(token=token))
