"""One batch of a send: claim due deliveries, make each reader's message, hand them over, record."""

from __future__ import annotations

import contextlib
import datetime
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db import connection as database
from django.db import connections as db_connections

from digests.delivery.journal import BatchJournal, journal_expire, journal_forget, journal_write
from digests.delivery.ledger import (
    Claim,
    claim_token_new,
    deliveries_claim,
    deliveries_recheck,
    deliveries_record,
    deliveries_unclaim_unless_sending,
)
from digests.delivery.messages import Recipient, UnsendableAddress, ascii_address, message_date, variant_message
from digests.delivery.outcomes import Code, Outcome
from digests.delivery.transport import Outgoing, call_timeout, smtp_connections, transport_needs_bytes, transport_send
from digests.delivery.variants import variant_ids
from digests.links import reader_links_many
from digests.mail import mail_connection
from digests.models import Digest
from digests.rendering.inline import variant_inlined
from newsletter.logs import log_fields

log = logging.getLogger(__name__)

# How long making a batch's messages may take: the deadline of the journal
# written before the claim, so a worker killed before its first provider call
# has its claim settled this soon, not after the lease.
PREPARE_SECONDS = 30
# How long a batch keeps reconnecting to a database that dropped its connection
# (a restart, a failover, pg_terminate_backend) to claim or to record its outcomes.
RECONNECT_SECONDS = 30
# How long one task sends batches back to back (``deliveries_send_batches``) before it hands on
# to the next task: well inside the lanes' heartbeat and the batch time limit.
BATCHES_SECONDS = 20
# A batch claimed and made while the one before is on the wire is held under a short journal
# deadline, renewed while it waits: a worker killed then has it settled (put back, nothing of
# it ambiguous) within HOLD_SECONDS instead of PREPARE_SECONDS.
HOLD_SECONDS = 8
HOLD_RENEW_SECONDS = 2
# A batch sent back to back over SMTP grows, batch by batch, to what went out in
# DELIVERY_BATCH_SECONDS, but never past this many times its usual size.
GROWTH_MAX = 5
# How many new objects a send lets Python's young generation take before collecting it (the
# default is 700): a batch's readers live until it is recorded, about six objects each, and at
# 700 each was scanned twice more on its way to the oldest generation.
GC_YOUNG_THRESHOLD = 10_000


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    withdrawn: int = 0  # readers who left (unsubscribed, bounced, complained) after the claim
    variants: int = 0
    retry_at: datetime.datetime | None = None
    full: bool = False  # as many were claimed as were asked for: more may be due


def batch_size() -> int:
    """DELIVERY_BATCH_SIZE per SMTP connection of a batch (DELIVERY_SMTP_CONNECTIONS; one for other
    transports), lowered under a slow rate limit so a batch ends well within its time limit.

    Per connection because a batch's fixed cost (claim, re-check, record, connecting) is paid once
    per batch: cut into more connections, a batch of the same size would pay it for fewer messages each.
    """
    size = settings.DELIVERY_BATCH_SIZE
    if _bulk_over_smtp():
        size *= smtp_connections()
    rate = settings.DELIVERY_RATE_PER_SECOND
    if rate > 0:
        size = min(size, max(1, int(rate * settings.DELIVERY_LEASE_SECONDS / 4)))
    return size


def batch_grows() -> bool:
    """Whether batches sent back to back may grow past ``batch_size`` (``batch_grown``): over SMTP alone,
    with no rate limit. A provider's API caps a call's recipients, and a rate limit sizes batches itself."""
    return settings.DELIVERY_BATCH_SECONDS > 0 and settings.DELIVERY_RATE_PER_SECOND <= 0 and _bulk_over_smtp()


def _bulk_over_smtp() -> bool:
    return settings.MAIL_CONNECTIONS["bulk"]["backend"].endswith(".smtp.EmailBackend")


def batch_grown(size: int, *, sent: int, seconds: float) -> int:
    """The size of a batch that would take about DELIVERY_BATCH_SECONDS on the wire at the pace the last one
    went (``sent`` messages accepted in ``seconds``), from ``size`` (``batch_size``) up to GROWTH_MAX times it.

    A batch's fixed cost (claim, re-check, record, connecting, its lanes ending one after another) is paid
    per batch, so a fast relay is kept busier by bigger ones; a slow one keeps them at ``size``, so a
    pause still takes hold within about one batch on the wire, and so does one that accepted nothing
    (down, or refusing): its quick failures are no pace.
    """
    pace = sent / max(seconds, 0.001)
    return max(size, min(size * GROWTH_MAX, int(pace * settings.DELIVERY_BATCH_SECONDS)))


def deliveries_send_batch(digest_id: int, *, limit: int | None = None, now: datetime.datetime | None = None) -> BatchReport:
    """Claim up to ``limit`` due deliveries of a sending digest, send them and record every outcome.

    Sends nothing if the digest is not ``sending`` (paused, cancelled, done)
    or nothing is due. Safe to run any number of times concurrently.
    """
    batch = _batch_prepare(digest_id, limit=limit or batch_size(), now=now)
    if not batch.claim.ids:
        journal_forget(batch.claim.token)
        return BatchReport()
    report = _batch_recheck(batch)
    return _batch_finish(batch, report, _batch_transmit(batch, stop=None))


def deliveries_send_batches(
    digest_id: int, *, seconds: float = BATCHES_SECONDS, now: datetime.datetime | None = None
) -> BatchReport:
    """Send full batches of a digest back to back for about ``seconds``, the connections kept busy:
    the next batch is claimed and made while one is on the wire, and a batch's outcomes are recorded
    while the next one is.

    Over SMTP each batch after the second is sized to the pace of the last one on the wire
    (``batch_grown``).

    Returns the last batch's report (a full one means more is due) with the earliest retry of all.
    Each batch keeps its own claim and journal: a batch claimed but not yet handed over when the
    worker dies comes back whole and unambiguous, as one that died while being prepared always did.
    """
    with _throughput_scheduling(), _throughput_collection():
        return _send_batches(digest_id, seconds=seconds, now=now)


@contextlib.contextmanager
def _throughput_scheduling():
    """This thread, and the threads it starts (the send's and its lanes inherit it), under Linux's
    SCHED_BATCH while it sends: at the same priority, but a lane woken by a server's reply no longer
    preempts the process running (the relay, PostgreSQL, Redis, the web), so the machine switches
    far less and gets more done per message (docs/performance.md, "A send scheduled for throughput").

    Only from the default policy: a worker its operator started idle (``chrt -i``) or real-time stays so.
    """
    try:
        switched = os.sched_getscheduler(0) == os.SCHED_OTHER
        if switched:
            param = os.sched_getparam(0)
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not allowed (a seccomp profile)
        switched = False
    try:
        yield
    finally:
        if switched:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, os.SCHED_OTHER, param)


@contextlib.contextmanager
def _throughput_collection():
    """Python's cycle collector kept to what the send makes while it sends: what the worker held
    before (Django, Celery, every module: some 160,000 objects) is frozen out of the collections, and
    the young generation is collected every GC_YOUNG_THRESHOLD new objects. The full collections
    a batch's survivors set off rescanned all of it: collecting took 7-8 % of a worker's CPU in a
    send, 1.5 % after (docs/performance.md, "A send's own garbage"). Cycles the send makes are
    collected as ever; what was frozen is unfrozen after it. A freeze the operator made (``gc.freeze()``
    at boot), a higher threshold or a collector turned off are left as they were.
    """
    threshold, freezes = gc.get_threshold(), gc.get_freeze_count() == 0
    if freezes:
        gc.freeze()
    if 0 < threshold[0] < GC_YOUNG_THRESHOLD:  # 0: automatic collection is off
        gc.set_threshold(GC_YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if freezes:
            gc.unfreeze()


def _send_batches(digest_id: int, *, seconds: float, now: datetime.datetime | None) -> BatchReport:
    limit, started, retry_at = batch_size(), time.monotonic(), None
    grows, size = batch_grows(), limit
    batch = _batch_prepare(digest_id, limit=limit, now=now)
    if not batch.claim.ids:
        journal_forget(batch.claim.token)
        return BatchReport()
    report = _batch_recheck(batch)
    on_wire = [(batch, report, _Sending(batch))]
    following = None
    try:
        while on_wire:
            batch, report, sending = on_wire[0]
            if report.full and time.monotonic() - started < seconds:
                following = _batch_prepare(digest_id, limit=limit, now=now)
                if not following.claim.ids:
                    journal_forget(following.claim.token)
                    following = None
            outcomes = sending.wait(renew=None if following is None else (lambda claim=following.claim: _hold(claim)))
            if following is not None and not _reconnecting(
                lambda claim=following.claim: deliveries_unclaim_unless_sending(digest_id, claim), digest_id
            ):
                # Paused or cancelled while the batch before was on the wire: nothing new starts.
                journal_forget(following.claim.token)
                following = None
            if following is not None:
                # The next batch goes on the wire first; this one's outcomes are recorded meanwhile.
                following_report = _batch_recheck(following)
                on_wire.append((following, following_report, _Sending(following)))
                following = None
            on_wire.pop(0)
            report = _batch_finish(batch, report, outcomes)
            if grows:
                limit = batch_grown(size, sent=report.sent, seconds=sending.seconds)
            if report.retry_at:
                retry_at = min(retry_at or report.retry_at, report.retry_at)
    except BaseException:
        # Interrupted (a soft time limit, a database lost for good): nothing new starts; what is on
        # the wire is recorded once none of its calls can still be running, and a batch claimed but
        # not handed over goes back at the sweeper's next tick, none of it ambiguous.
        for batch, report, sending in on_wire:
            _batch_finish_quietly(batch, report, sending.wait(stop=True))
        if following is not None:
            _batch_release_quietly(following)
        raise
    report.retry_at = retry_at
    return report


@dataclass
class _Batch:
    """A claim and its readers' messages; ``failed``: why none of them can be handed over."""

    digest_id: int
    claim: Claim
    limit: int = 0  # how many the claim asked for
    items: list[Outgoing] = field(default_factory=list)
    connection: object = None
    journal: BatchJournal | None = None
    failed: Exception | None = None

    @property
    def fields(self) -> dict:
        return log_fields(digest_id=self.digest_id, batch=self.claim.token)


def _batch_prepare(digest_id: int, *, limit: int, now: datetime.datetime | None) -> _Batch:
    claim = _reconnecting(lambda: _claim_journalled(digest_id, limit=limit, now=now), digest_id)
    batch = _Batch(digest_id, claim, limit, journal=BatchJournal(claim.token))
    if claim.ids:
        try:
            batch.connection = mail_connection("bulk")
            batch.items = _outgoing(digest_id, claim.rows, needs_bytes=transport_needs_bytes(batch.connection))
        except Exception as exc:
            log.exception("digest %s: preparing a batch failed", digest_id, extra=batch.fields)
            batch.failed = exc
    return batch


def _batch_recheck(batch: _Batch) -> BatchReport:
    """Right before the hand-over, in the thread that owns the database connection."""
    report = BatchReport(claimed=len(batch.claim.ids), full=len(batch.claim.ids) >= batch.limit)
    if batch.failed is None:
        try:
            # A fresh deadline first, then the re-check re-stamps the claim's fence: a
            # sweeper that read the old deadline can no longer settle these rows.
            journal_write(batch.claim.token, "", busy_for=call_timeout(batch.connection), in_flight=False)
            # The one re-check per batch, as late as possible: readers who left since the claim are withdrawn.
            held = deliveries_recheck(batch.claim)
        except Exception as exc:
            log.exception("digest %s: preparing a batch failed", batch.digest_id, extra=batch.fields)
            batch.failed = exc
        else:
            if len(held.ids) < len(batch.claim.ids):
                report.withdrawn = len(batch.claim.ids) - len(held.ids)
                still = set(held.ids)
                batch.items = [item for item in batch.items if item.delivery_id in still]
            report.variants = len({item.variant_key for item in batch.items if not item.error})
    return report


def _batch_transmit(batch: _Batch, *, stop: threading.Event | None) -> dict | None:
    """Hand the batch over: every outcome, or None when the send failed half-way (the sweeper settles it)."""
    if batch.failed is not None:
        # Nothing was handed over: every delivery waits and comes back.
        error = f"{type(batch.failed).__name__}: {batch.failed}"[:1000]
        return {pk: Outcome(Code.OUTAGE, error) for pk in batch.claim.ids}
    try:
        return transport_send(batch.connection, batch.items, journal=batch.journal, stop=stop)
    except Exception:
        # Some messages may have gone out: leave the rows to the sweeper,
        # which settles them from the journal at once.
        log.exception("digest %s: a batch failed while sending; the sweeper settles it", batch.digest_id, extra=batch.fields)
        journal_expire(batch.claim.token)
        return None


class _Sending:
    """``_batch_transmit`` in a thread of its own while the batch's thread claims and makes the next.
    Only provider calls and journal writes run there: the database stays with the batch's thread."""

    def __init__(self, batch: _Batch):
        self.stop = threading.Event()
        self.outcomes: dict | None = None
        self.seconds = 0.0  # from hand-over to the last outcome, once the send has returned
        self.thread = threading.Thread(target=self._run, args=(batch,), name="batch-send")
        self.thread.start()

    def _run(self, batch: _Batch) -> None:
        started = time.monotonic()
        try:
            self.outcomes = _batch_transmit(batch, stop=self.stop)
        finally:
            self.seconds = time.monotonic() - started
            db_connections.close_all()  # this thread's own, should anything have opened one

    def wait(self, *, stop: bool = False, renew: Callable[[], None] | None = None) -> dict | None:
        """The outcomes once the send has returned; with ``stop``, the send starts nothing new first;
        ``renew`` is called every HOLD_RENEW_SECONDS meanwhile (and once at the start)."""
        if stop:
            self.stop.set()
        try:
            while renew is not None and self.thread.is_alive():
                renew()
                self.thread.join(HOLD_RENEW_SECONDS)
            self.thread.join()
        except BaseException:
            self.stop.set()
            self.thread.join()
            raise
        return self.outcomes


def _hold(claim: Claim) -> None:
    """Keep a made, not yet handed-over batch's claim for HOLD_SECONDS more (nothing of it is in flight)."""
    try:
        journal_write(claim.token, "", busy_for=HOLD_SECONDS, in_flight=False)
    except Exception as exc:
        # Should the hold lapse, the sweeper puts the rows back and the re-check before the
        # hand-over finds them gone: they are sent once, by whoever claims them next.
        log.warning("could not renew a held batch's journal (%s)", exc)


def _batch_release_quietly(batch: _Batch) -> None:
    try:
        journal_write(batch.claim.token, "", busy_for=0, in_flight=False)
    except Exception:
        log.exception("digest %s: could not release a batch", batch.digest_id, extra=batch.fields)


def _batch_finish_quietly(batch: _Batch, report: BatchReport, outcomes: dict | None) -> None:
    # Another error is on its way out: record what can be, and leave the rest to the sweeper and the journals.
    try:
        _batch_finish(batch, report, outcomes)
    except Exception:
        log.exception("digest %s: could not record a batch", batch.digest_id, extra=batch.fields)


def _batch_finish(batch: _Batch, report: BatchReport, outcomes: dict | None) -> BatchReport:
    """Record the outcomes (none when the send failed half-way: the sweeper has the batch) and log them."""
    if outcomes is None:
        return report
    fields = batch.fields
    recorded = _record(batch.claim, outcomes, digest_id=batch.digest_id, fields=fields, lanes=batch.journal.lanes)
    journal_forget(batch.claim.token)
    report.sent, report.failed, report.retried, report.retry_at = (
        recorded.sent,
        recorded.failed,
        recorded.retried,
        recorded.retry_at,
    )
    _log_outcomes(batch.items, outcomes, fields)
    log.info(
        "digest %s: batch of %d: %d sent, %d failed, %d to retry",
        batch.digest_id,
        report.claimed,
        report.sent,
        report.failed,
        report.retried,
        extra={**fields, "sent": report.sent, "failed": report.failed, "retried": report.retried},
    )
    return report


# What making a claimed reader's message needs, read by the claim's own query.
OUTGOING_FIELDS = ("variant", "message_id", "subscriber_id", "subscriber__email", "subscriber__key", "subscriber__language")


def _claim_journalled(digest_id: int, *, limit: int, now: datetime.datetime | None):
    # Journalled before the claim commits, so no claim ever exists without a journal:
    # if this worker dies before its first provider call, the sweeper puts the rows
    # back once PREPARE_SECONDS have passed, and nothing of them is ambiguous.
    token = claim_token_new()
    journal_write(token, "", busy_for=PREPARE_SECONDS, in_flight=False)
    return deliveries_claim(digest_id, limit=limit, now=now, token=token, fields=OUTGOING_FIELDS)


def _record(claim, outcomes: dict, *, digest_id: int, fields: dict, lanes: tuple = ()):
    """Record the batch's outcomes, waiting out a lost database connection (the worker settles its own claim)."""
    try:
        # Every outcome is known and no call is running: should this worker not
        # reach the database in time, the sweeper settles exactly these.
        journal_write(
            claim.token,
            [outcomes[pk] for pk in sorted(outcomes)],
            busy_for=RECONNECT_SECONDS + 5,
            in_flight=False,
            lanes=lanes,  # kept so that journal_forget finds the lanes' journals
        )
    except Exception:
        log.exception("digest %s: could not journal a finished batch", digest_id, extra=fields)
    return _reconnecting(lambda: deliveries_record(claim, outcomes, release=True), digest_id)


def _reconnecting(step: Callable, digest_id: int):
    """Run a database step; while the connection is lost, reconnect and try again for up to RECONNECT_SECONDS."""
    give_up = time.monotonic() + RECONNECT_SECONDS
    while True:
        try:
            return step()
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() > give_up:
                raise
            log.warning("digest %s: the database connection was lost (%s); reconnecting", digest_id, exc)
            database.close()
            time.sleep(1)


def _log_outcomes(items: list[Outgoing], outcomes: dict, fields: dict) -> None:
    readers = {item.delivery_id: item.subscriber_id for item in items}
    for delivery_id, outcome in outcomes.items():
        if outcome.code in (Code.FAILED, Code.RETRY):
            log.warning(
                "delivery %s %s: %s",
                delivery_id,
                "failed" if outcome.code == Code.FAILED else "will be retried",
                outcome.error,
                extra={**fields, "subscriber_id": readers.get(delivery_id), "delivery_id": delivery_id},
            )


def _outgoing(digest_id: int, rows: tuple[tuple, ...], *, needs_bytes: bool = True) -> list[Outgoing]:
    """The messages of a claim's ``rows`` (``OUTGOING_FIELDS``, read by the claim itself)."""
    digest = Digest.objects.get(pk=digest_id)
    links = reader_links_many(row[5] for row in rows)
    date = message_date()
    variants: dict[tuple, tuple] = {}
    items = []
    for (pk, variant, message_id, subscriber_id, address, _key, language), reader in zip(rows, links, strict=True):
        vkey = (variant, language)
        if vkey not in variants:
            rendered = variant_inlined(digest, variant_ids(variant), language=language)
            # Provider APIs take the rendered parts, not MIME bytes: skip serialising then.
            message = variant_message(rendered, digest_id=digest_id, language=language) if rendered and needs_bytes else None
            variants[vkey] = (rendered, message)
        rendered, message = variants[vkey]
        item = Outgoing(
            delivery_id=pk,
            digest_id=digest_id,
            fields=None,
            variant=message,
            rendered=rendered,
            variant_key=vkey,
            subscriber_id=subscriber_id,
        )
        if rendered is None:
            item.error = "the reader's categories have no items in this digest"
        else:
            try:
                item.fields = Recipient(to=ascii_address(address), message_id=message_id, links=reader, date=date)
            except UnsendableAddress as exc:
                item.error = str(exc)
        items.append(item)
    return items
