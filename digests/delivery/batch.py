"""One batch of a send: claim due deliveries, make each reader's message, hand them over, record."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db import connection as database

from digests.delivery.journal import BatchJournal, journal_expire, journal_forget, journal_write
from digests.delivery.ledger import claim_token_new, deliveries_claim, deliveries_recheck, deliveries_record
from digests.delivery.messages import Recipient, UnsendableAddress, ascii_address, variant_message
from digests.delivery.outcomes import Code, Outcome
from digests.delivery.transport import Outgoing, call_timeout, smtp_connections, transport_needs_bytes, transport_send
from digests.delivery.variants import variant_ids
from digests.links import reader_links_many
from digests.mail import mail_connection
from digests.models import Delivery, Digest
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


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    withdrawn: int = 0  # readers who left (unsubscribed, bounced, complained) after the claim
    variants: int = 0
    retry_at: datetime.datetime | None = None


def batch_size() -> int:
    """DELIVERY_BATCH_SIZE per SMTP connection of a batch (DELIVERY_SMTP_CONNECTIONS; one for other
    transports), lowered under a slow rate limit so a batch ends well within its time limit.

    Per connection because a batch's fixed cost (claim, re-check, record, connecting) is paid once
    per batch: cut into more connections, a batch of the same size would pay it for fewer messages each.
    """
    size = settings.DELIVERY_BATCH_SIZE
    if settings.MAIL_CONNECTIONS["bulk"]["backend"].endswith(".smtp.EmailBackend"):
        size *= smtp_connections()
    rate = settings.DELIVERY_RATE_PER_SECOND
    if rate > 0:
        size = min(size, max(1, int(rate * settings.DELIVERY_LEASE_SECONDS / 4)))
    return size


def deliveries_send_batch(digest_id: int, *, limit: int | None = None, now: datetime.datetime | None = None) -> BatchReport:
    """Claim up to ``limit`` due deliveries of a sending digest, send them and record every outcome.

    Sends nothing if the digest is not ``sending`` (paused, cancelled, done)
    or nothing is due. Safe to run any number of times concurrently.
    """
    claim = _reconnecting(lambda: _claim_journalled(digest_id, limit=limit or batch_size(), now=now), digest_id)
    report = BatchReport(claimed=len(claim.ids))
    if not claim.ids:
        journal_forget(claim.token)
        return report
    fields = log_fields(digest_id=digest_id, batch=claim.token)
    items: list[Outgoing] = []
    journal = BatchJournal(claim.token)
    connection = mail_connection("bulk")
    try:
        items = _outgoing(digest_id, claim.ids, needs_bytes=transport_needs_bytes(connection))
        # A fresh deadline first, then the re-check re-stamps the claim: a
        # sweeper that read the old deadline can no longer settle these rows.
        journal_write(claim.token, "", busy_for=call_timeout(connection), in_flight=False)
        # The one re-check per batch, as late as possible: readers who left since the claim are withdrawn.
        held = deliveries_recheck(claim)
        if len(held.ids) < len(claim.ids):
            report.withdrawn = len(claim.ids) - len(held.ids)
            still = set(held.ids)
            items = [item for item in items if item.delivery_id in still]
    except Exception as exc:
        # Nothing was handed over: every delivery waits and comes back.
        log.exception("digest %s: preparing a batch failed", digest_id, extra=fields)
        outcomes = {pk: Outcome(Code.OUTAGE, f"{type(exc).__name__}: {exc}"[:1000]) for pk in claim.ids}
    else:
        report.variants = len({item.variant_key for item in items if not item.error})
        try:
            outcomes = transport_send(connection, items, journal=journal)
        except Exception:
            # Some messages may have gone out: leave the rows to the sweeper,
            # which settles them from the journal at once.
            log.exception("digest %s: a batch failed while sending; the sweeper settles it", digest_id, extra=fields)
            journal_expire(claim.token)
            return report
    recorded = _record(claim, outcomes, digest_id=digest_id, fields=fields, lanes=journal.lanes)
    journal_forget(claim.token)
    report.sent, report.failed, report.retried, report.retry_at = (
        recorded.sent,
        recorded.failed,
        recorded.retried,
        recorded.retry_at,
    )
    _log_outcomes(items, outcomes, fields)
    log.info(
        "digest %s: batch of %d: %d sent, %d failed, %d to retry",
        digest_id,
        report.claimed,
        report.sent,
        report.failed,
        report.retried,
        extra={**fields, "sent": report.sent, "failed": report.failed, "retried": report.retried},
    )
    return report


def _claim_journalled(digest_id: int, *, limit: int, now: datetime.datetime | None):
    # Journalled before the claim commits, so no claim ever exists without a journal:
    # if this worker dies before its first provider call, the sweeper puts the rows
    # back once PREPARE_SECONDS have passed, and nothing of them is ambiguous.
    token = claim_token_new()
    journal_write(token, "", busy_for=PREPARE_SECONDS, in_flight=False)
    return deliveries_claim(digest_id, limit=limit, now=now, token=token)


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
    return _reconnecting(lambda: deliveries_record(claim, outcomes), digest_id)


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


def _outgoing(digest_id: int, ids: tuple[int, ...], *, needs_bytes: bool = True) -> list[Outgoing]:
    digest = Digest.objects.get(pk=digest_id)
    rows = (
        Delivery.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list(
            "pk", "variant", "message_id", "subscriber_id", "subscriber__email", "subscriber__key", "subscriber__language"
        )
    )
    rows = list(rows)
    links = reader_links_many(row[5] for row in rows)
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
                item.fields = Recipient(to=ascii_address(address), message_id=message_id, links=reader)
            except UnsendableAddress as exc:
                item.error = str(exc)
        items.append(item)
    return items
