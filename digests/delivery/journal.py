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

from digests.delivery.outcomes import Code, Outcome

JOURNAL_KEY = "delivery:journal:{token}"


class Journal(NamedTuple):
    deadline: float  # a timestamp
    codes: str
    in_flight: bool  # whether the call for the id after ``codes`` may have started
    reasons: dict[int, str]  # the error of each failed (refused) delivery, by its index in ``codes``


def _ttl() -> int:
    return settings.DELIVERY_LEASE_SECONDS * 4


def journal_write(token: str, done: list[Outcome] | str, *, busy_for: float, in_flight: bool = True) -> None:
    """Record progress: the outcomes (or their codes) of the first len(done) claimed ids, in id order,
    and that the worker will have returned from its next provider call (or, with ``in_flight=False``,
    written its journal again) within ``busy_for`` seconds."""
    if isinstance(done, str):
        codes, reasons = done, {}
    else:
        codes = "".join(outcome.code for outcome in done)
        reasons = {index: outcome.error for index, outcome in enumerate(done) if outcome.code == Code.FAILED}
    deadline = timezone.now().timestamp() + busy_for
    cache.set(JOURNAL_KEY.format(token=token), Journal(deadline, codes, in_flight, reasons), timeout=_ttl())


def journal_read(token: str) -> Journal | None:
    """The journal of a claim, or None when it has none."""
    value = cache.get(JOURNAL_KEY.format(token=token))
    if isinstance(value, str):
        # Written by a worker of the previous release: "deadline|codes", a call in flight.
        deadline, _, codes = value.partition("|")
        return Journal(float(deadline), codes, True, {})
    return Journal(*value) if value else None


def journal_expire(token: str) -> None:
    """Declare that no call of this claim is in flight any more (the sweeper may settle it now)."""
    journal = journal_read(token)
    expired = journal._replace(deadline=0.0, in_flight=True) if journal else Journal(0.0, "", True, {})
    cache.set(JOURNAL_KEY.format(token=token), expired, timeout=_ttl())


def journal_forget(token: str) -> None:
    cache.delete(JOURNAL_KEY.format(token=token))
