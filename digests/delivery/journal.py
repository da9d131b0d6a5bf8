"""The crash journal: how far a batch got, kept in the shared cache while it sends.

A batch writes its journal before it claims anything and again before every
provider call: one short string (an outcome code per claimed id, in id order)
and a deadline by which its next call will have returned. If the worker dies,
the sweeper reads it once the deadline has passed: what was sent is marked
sent, what was never attempted goes back to pending, and the one message whose
call was in flight is *ambiguous* (see ledger.py). A journal written while no
call is running (preparing the batch, recording its outcomes) says so, and
then nothing is ambiguous.
"""

from __future__ import annotations

from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

JOURNAL_KEY = "delivery:journal:{token}"
IDLE = "idle"


class Journal(NamedTuple):
    deadline: float  # a timestamp
    codes: str
    in_flight: bool  # whether the call for the id after ``codes`` may have started


def _ttl() -> int:
    return settings.DELIVERY_LEASE_SECONDS * 4


def journal_write(token: str, codes: str, *, busy_for: float, in_flight: bool = True) -> None:
    """Record progress: ``codes`` for the first len(codes) claimed ids (in id order), and that the
    worker will have returned from its next provider call (or, with ``in_flight=False``, written its
    journal again) within ``busy_for`` seconds."""
    deadline = timezone.now().timestamp() + busy_for
    state = "" if in_flight else f"|{IDLE}"
    cache.set(JOURNAL_KEY.format(token=token), f"{deadline:.3f}|{codes}{state}", timeout=_ttl())


def journal_read(token: str) -> Journal | None:
    """The journal of a claim, or None when it has none."""
    value = cache.get(JOURNAL_KEY.format(token=token))
    if not value:
        return None
    deadline, _, rest = value.partition("|")
    codes, _, state = rest.partition("|")
    return Journal(float(deadline), codes, state != IDLE)


def journal_expire(token: str) -> None:
    """Declare that no call of this claim is in flight any more (the sweeper may settle it now)."""
    journal = journal_read(token)
    codes = journal.codes if journal else ""
    cache.set(JOURNAL_KEY.format(token=token), f"0|{codes}", timeout=_ttl())


def journal_forget(token: str) -> None:
    cache.delete(JOURNAL_KEY.format(token=token))
