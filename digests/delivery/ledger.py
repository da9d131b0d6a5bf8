"""The delivery ledger: one row per (digest, reader), snapshot, claim, record, sweep.

Exactly-once rests on three things:

* the ledger holds at most one row per (subscriber, digest) pair (a unique
  constraint), and the snapshot adds only readers who have none, so running
  it twice adds nobody twice;
* a batch claims rows in a short transaction (``SELECT … FOR UPDATE SKIP
  LOCKED`` then ``status = sending`` with a fresh claim token, and the claim's
  fence, a ``DeliveryClaim`` row), and only sends after that transaction
  committed; a duplicate or redelivered task finds nothing claimable;
* outcomes are written only where the claim token still matches, in one
  transaction per batch.

While a batch sends, its progress is written to the crash journal
(journal.py). If the worker dies, the sweeper replays the journal: what was
sent is marked sent, what was never attempted goes back to pending, and the
one message whose provider call was in flight (one per connection, when a
batch sends over several) is *ambiguous*; it goes back to
pending with the same Message-ID (mail systems drop the second copy by that
id) and is recorded as a DeliveryEvent of type ``ambiguous`` and in
``last_error``.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from digests.delivery.audience import digest_readers
from digests.delivery.journal import IN_FLIGHT, NOT_ATTEMPTED, journal_forget, journal_joined, journal_read
from digests.delivery.messages import message_id_for, sender_domain
from digests.delivery.outcomes import Code, Outcome
from digests.delivery.retry import retry_delay
from digests.delivery.variants import variant_key
from digests.models import Delivery, DeliveryClaim, DeliveryCount, DeliveryEvent, Digest, Item, Subscriber

log = logging.getLogger(__name__)

D = Delivery.Status
SNAPSHOT_CHUNK = 2000
SKIP_REASON = "no items in the reader's categories"


@dataclass
class SnapshotReport:
    pending: int = 0
    skipped: int = 0


def deliveries_snapshot(
    digest: Digest, *, release: Callable[..., datetime.datetime], chunk_size: int = SNAPSHOT_CHUNK
) -> SnapshotReport:
    """Insert one ledger row per reader of the digest; readers whose categories have no item are ``skipped``.

    The readers are the active ones whose frequency takes the digest's edition
    (``digest_readers``). ``release(tz_name)`` gives a reader's earliest send
    time, for a weekly digest ``release(tz_name, weekday)`` (their weekly day);
    it is called once per time zone (and weekday), never per reader. A reader
    with no categories chosen gets every category.
    A reader whose zone (or weekday) appeared after the release times were
    computed is left out, as one who joined a moment after the start would be
    (a later run would add them).
    Rows go in grouped by release time and variant, so batches mostly share
    one, and only for readers who have no row for the digest yet, so running
    it again adds only those (the unique (reader, digest) pair stands behind it). On PostgreSQL the whole
    audience is one set-based INSERT … SELECT (variant keys, release times and
    Message-IDs computed in the database) for a digest of up to
    MASK_CATEGORIES categories; elsewhere readers are read and written in
    primary-key chunks.
    """
    digest_categories = sorted(set(Item.objects.filter(digest=digest).values_list("category_id", flat=True)))
    groups = {
        (tz_name or settings.TIME_ZONE, weekday if digest.is_weekly else "")
        for tz_name, weekday in digest_readers(digest).values_list("timezone", "weekly_day").distinct()
    }
    releases = {
        _release_key(tz_name, weekday): release(tz_name, weekday) if weekday else release(tz_name) for tz_name, weekday in groups
    }
    if connection.vendor == "postgresql" and len(digest_categories) <= MASK_CATEGORIES:
        return _snapshot_in_database(digest, digest_categories, releases)
    return _snapshot_in_chunks(digest, frozenset(digest_categories), releases, chunk_size)


def _release_key(tz_name: str, weekday: str) -> str:
    # A daily digest's readers are grouped by zone, a weekly's by zone and weekday.
    return f"{tz_name} {weekday}" if weekday else tz_name


# Which of the digest's categories a reader chose is a bit mask: one hash
# aggregate over the M2M table gives every reader's mask, the few distinct
# masks are spelled out as variant keys once (both CTEs materialised, or the
# key's subquery would run once per reader), and both are hash-joined to the
# readers; a lookup of the M2M table per reader cost more than all of that.
# The release time is a CASE over the few time zones (and weekdays, for a
# weekly digest). Variant keys sort in byte order ("C"), as Python sorts
# them, and without the locale's slower comparison. Before the tables have
# statistics (a freshly imported list) the planner takes the readers for a
# handful of rows and may join them in a nested loop, quadratic in the
# audience: the statement runs with nested loops off, so its plan stays
# linear either way.
# Readers who already have a row are left out by an anti-join, not by ON
# CONFLICT DO NOTHING, whose speculative insertion (a second index probe and
# WAL record per row) cost a third of the insert: the only caller,
# digest_start, runs it in the transaction that moved the digest to sending,
# holding the digest's row, so two snapshots of one digest never overlap; if
# one ever did, the unique (subscriber, digest) pair would fail it rather
# than add anyone twice.
_SNAPSHOT_SQL = """
WITH chosen AS MATERIALIZED (
    SELECT t.subscriber_id,
           coalesce(bit_or(1::bigint << (array_position(%(categories)s::bigint[], t.category_id) - 1)), 0) AS mask
    FROM {through} t GROUP BY t.subscriber_id
),
variants AS MATERIALIZED (
    SELECT m.mask,
           coalesce((SELECT string_agg(c.id::text, ',' ORDER BY c.id)
                     FROM unnest(%(categories)s::bigint[]) WITH ORDINALITY AS c(id, bit)
                     WHERE m.mask & (1::bigint << (c.bit::int - 1)) <> 0), '') AS variant
    FROM (SELECT mask FROM chosen UNION SELECT %(all_mask)s::bigint) AS m
),
inserted AS (
    INSERT INTO {delivery} (digest_id, subscriber_id, variant, not_before, status, attempts, last_error,
                            claim_token, message_id, provider_message_id, created_at, updated_at)
    SELECT %(digest_id)s, s.id, v.variant, {release},
           CASE WHEN v.variant <> '' THEN %(pending)s ELSE %(skipped)s END,
           0,
           CASE WHEN v.variant <> '' THEN '' ELSE %(skip_reason)s END,
           '',
           '<digest' || %(digest_id)s::text || '.'
               || left(encode(sha256(convert_to(%(secret)s::text || ':' || %(digest_id)s::text || ':' || s.key::text, 'UTF8')), 'hex'), 24)
               || '@' || %(domain)s::text || '>',
           '', %(now)s, %(now)s
    FROM {subscriber} s
    LEFT JOIN chosen c ON c.subscriber_id = s.id
    JOIN variants v ON v.mask = coalesce(c.mask, %(all_mask)s::bigint)
    WHERE s.status = %(active)s AND s.frequency = ANY(%(frequencies)s::text[]) AND {release} IS NOT NULL
      AND NOT EXISTS (SELECT FROM {delivery} d WHERE d.digest_id = %(digest_id)s AND d.subscriber_id = s.id)
    ORDER BY 4, v.variant COLLATE "C", s.id
    RETURNING status
)
SELECT status, count(*) FROM inserted GROUP BY status
"""

# A reader with no categories chosen gets all of the digest's; a bigint holds
# the mask of up to 63 categories. A digest with more (none so far) goes the
# portable way.
MASK_CATEGORIES = 63

# Sorting the audience (~200 bytes a reader) and hashing the M2M table in
# memory; at a million readers both spill to disk in bounded memory.
_SNAPSHOT_WORK_MEM = "64MB"


def _snapshot_in_database(digest: Digest, categories: list[int], releases: dict[str, datetime.datetime]) -> SnapshotReport:
    zones = sorted(releases)
    cases = " ".join(f"WHEN %(zone_{n})s THEN %(release_{n})s::timestamptz" for n in range(len(zones)))
    group = "coalesce(nullif(s.timezone, ''), %(site_zone)s::text)"
    if digest.is_weekly:
        group = f"{group} || ' ' || s.weekly_day"  # as _release_key spells it
    sql = _SNAPSHOT_SQL.format(
        through=connection.ops.quote_name(Subscriber.categories.through._meta.db_table),
        delivery=connection.ops.quote_name(Delivery._meta.db_table),
        subscriber=connection.ops.quote_name(Subscriber._meta.db_table),
        release=f"CASE {group} {cases} END" if zones else "%(now)s",
    )
    params = {
        "digest_id": digest.pk,
        "categories": categories,
        "all_mask": (1 << len(categories)) - 1,
        "pending": D.PENDING,
        "skipped": D.SKIPPED,
        "skip_reason": SKIP_REASON,
        "secret": settings.SECRET_KEY,
        "domain": sender_domain(),
        "now": timezone.now(),
        **{f"zone_{n}": zone for n, zone in enumerate(zones)},
        **{f"release_{n}": releases[zone] for n, zone in enumerate(zones)},
        "site_zone": settings.TIME_ZONE,
        "active": Subscriber.Status.ACTIVE,
        "frequencies": list(Subscriber.frequencies_taking(digest.edition)),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # Transaction-local (undone with the transaction if it fails), and put back
        # right after the statement for whatever else the caller's transaction does.
        cursor.execute(
            "SELECT current_setting('enable_nestloop'), current_setting('work_mem'),"
            " set_config('enable_nestloop', 'off', true), set_config('work_mem', %s, true)",
            [_SNAPSHOT_WORK_MEM],
        )
        nestloop, work_mem = cursor.fetchone()[:2]
        cursor.execute(sql, params)
        counts = dict(cursor.fetchall())
        cursor.execute("SELECT set_config('enable_nestloop', %s, true), set_config('work_mem', %s, true)", [nestloop, work_mem])
    return SnapshotReport(pending=counts.get(D.PENDING, 0), skipped=counts.get(D.SKIPPED, 0))


def _snapshot_in_chunks(
    digest: Digest, digest_categories: frozenset[int], releases: dict[str, datetime.datetime], chunk_size: int
) -> SnapshotReport:
    through = Subscriber.categories.through
    report = SnapshotReport()
    last_pk = 0
    while True:
        chunk = list(
            digest_readers(digest)
            .filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "timezone", "weekly_day", "key")[:chunk_size]
        )
        if not chunk:
            break
        last_pk = chunk[-1][0]
        chosen: dict[int, set[int]] = {}
        for subscriber_id, category_id in through.objects.filter(subscriber_id__in=[row[0] for row in chunk]).values_list(
            "subscriber_id", "category_id"
        ):
            chosen.setdefault(subscriber_id, set()).add(category_id)
        rows = []
        for pk, tz_name, weekday, key in chunk:
            not_before = releases.get(_release_key(tz_name or settings.TIME_ZONE, weekday if digest.is_weekly else ""))
            if not_before is None:
                continue  # joined after the release times were computed: left out, as in the set-based path
            categories = digest_categories & chosen[pk] if pk in chosen else digest_categories
            rows.append(
                Delivery(
                    digest_id=digest.pk,
                    subscriber_id=pk,
                    variant=variant_key(categories),
                    not_before=not_before,
                    status=D.PENDING if categories else D.SKIPPED,
                    last_error="" if categories else SKIP_REASON,
                    message_id=message_id_for(digest.pk, key),
                )
            )
        rows.sort(key=lambda row: (row.not_before, row.variant))
        existing = set(
            Delivery.objects.filter(digest_id=digest.pk, subscriber_id__in=[row.subscriber_id for row in rows]).values_list(
                "subscriber_id", flat=True
            )
        )
        Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        for row in rows:
            if row.subscriber_id in existing:
                continue
            if row.status == D.PENDING:
                report.pending += 1
            else:
                report.skipped += 1
    return report


@dataclass(frozen=True)
class Claim:
    token: str
    ids: tuple[int, ...]
    # With ``deliveries_claim(fields=...)``: (id, *fields) of each claimed row, in id order.
    rows: tuple[tuple, ...] = ()


def claim_token_new() -> str:
    return uuid.uuid4().hex


def deliveries_claim(
    digest_id: int,
    *,
    limit: int,
    now: datetime.datetime | None = None,
    token: str | None = None,
    fields: tuple[str, ...] = (),
) -> Claim:
    """Take up to ``limit`` due pending deliveries of a sending digest; empty if paused or done.

    Rows locked by another claim are skipped, not waited for. The caller sends
    after this returns (the transaction has committed) and must record every
    id with ``deliveries_record``. A caller that journals before claiming
    passes the claim's ``token``. ``fields`` (of the delivery, its subscriber's
    as ``subscriber__…``) are read by the claim's own query into ``rows``, so
    the caller need not read the rows it has just claimed a second time.
    """
    now = now or timezone.now()
    token = token or claim_token_new()
    with transaction.atomic():
        if not Digest.objects.filter(pk=digest_id, status=Digest.Status.SENDING).exists():
            return Claim(token, ())
        # No ORDER BY: the due index is walked in its own order (oldest
        # release first, then insertion order, which the snapshot grouped by
        # variant); sorting every pending row per claim would cost O(n).
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                digest_id=digest_id,
                status=D.PENDING,
                not_before__lte=now,
                subscriber__status=Subscriber.Status.ACTIVE,
            )
            .values_list("pk", *fields)[:limit]
        )
        ids = [row[0] for row in rows]
        if ids:
            Delivery.objects.filter(pk__any=ids).update(
                status=D.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
            )
            DeliveryClaim.objects.create(token=token, digest_id=digest_id, stamped_at=now)
    rows.sort()
    return Claim(token, tuple(row[0] for row in rows), tuple(rows) if fields else ())


def deliveries_recheck(claim: Claim, *, now: datetime.datetime | None = None) -> Claim:
    """Right before the hand-over: the part of ``claim`` still held whose readers are still active.

    The claim's fence is re-stamped, and the rows are only read: one count says
    whether every reader is still there; only when fewer are are the rest read and
    withdrawn. A reader who unsubscribed, bounced or complained since the claim is
    not sent: their delivery is withdrawn exactly as ``subscriber_transition``
    withdraws a pending one (suppressed after a bounce or complaint, else
    cancelled, with the reason).

    A sweeper that judged this claim abandoned from what it read earlier then leaves
    it alone (see ``deliveries_sweep_stuck``), so the caller must journal a fresh
    deadline *before* calling this, and may hand over exactly the ids returned.
    """
    now = now or timezone.now()
    active = Subscriber.Status.ACTIVE
    held_rows = Delivery.objects.filter(pk__any=claim.ids, claim_token=claim.token, status=D.SENDING)
    with transaction.atomic():
        # The fence first: its lock puts this before or after a sweeper's settling of the claim, never
        # inside it, and what is read below is what that settling left.
        fenced = DeliveryClaim.objects.filter(token=claim.token).update(stamped_at=now)
        if fenced:
            # Nearly always every reader is still there, and one count says so.
            stayed = held_rows.filter(subscriber__status=active).count()
        else:
            # No fence (a claim made before fences existed): the rows still held are the stamp.
            reader_stayed = Exists(Subscriber.objects.filter(pk=OuterRef("subscriber_id"), status=active))
            stayed = held_rows.filter(reader_stayed).update(claimed_at=now)
        if stayed == len(claim.ids):
            return claim
        rows = list(
            held_rows.select_for_update(of=("self",)).values_list("pk", "subscriber__status", "subscriber__suppression_reason")
        )
        withdrawn: dict[tuple[str, str], list[int]] = {}
        for pk, status, reason in rows:
            if status != active:
                withdrawn.setdefault((status, reason), []).append(pk)
        for (status, reason), pks in withdrawn.items():
            to = Delivery.withdrawn_status(status)
            # A suppressed reader keeps the bounce or complaint as the reason, as a pending delivery would.
            why = (reason if to == D.SUPPRESSED else "") or f"subscriber {status}"
            Delivery.objects.filter(pk__any=pks).update(status=to, last_error=why, claim_token="", updated_at=now)
        held = [pk for pk, status, _ in rows if status == active]
        if held and not fenced:
            Delivery.objects.filter(pk__any=held).update(claimed_at=now)
    return Claim(claim.token, tuple(sorted(held)))


def deliveries_unclaim_unless_sending(digest_id: int, claim: Claim, *, now: datetime.datetime | None = None) -> bool:
    """Before handing over a claim made a while ago (while another batch was on the wire): True if the
    digest still sends. If it was paused or cancelled meanwhile, the rows still held go back as if never
    claimed (pending, or cancelled with their digest), and False: nothing of them was handed over."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked, so a cancel either came first (seen here) or comes after and finds these rows pending.
        status = Digest.objects.select_for_update().filter(pk=digest_id).values_list("status", flat=True).first()
        if status == Digest.Status.SENDING:
            return True
        held = Delivery.objects.filter(pk__any=claim.ids, claim_token=claim.token, status=D.SENDING)
        if status == Digest.Status.CANCELLED:
            held.update(status=D.CANCELLED, last_error="send cancelled", claim_token="", updated_at=now)
        else:
            # The claim counted an attempt that was never made.
            held.update(status=D.PENDING, claim_token="", attempts=F("attempts") - 1, updated_at=now)
        DeliveryClaim.objects.filter(token=claim.token).delete()
    return False


@dataclass
class RecordReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    retry_at: datetime.datetime | None = None
    by_code: dict = field(default_factory=dict)


def deliveries_record(
    claim: Claim, outcomes: dict[int, Outcome], *, now: datetime.datetime | None = None, release: bool = False
) -> RecordReport:
    """Write each claimed delivery's outcome, in bulk, where the claim still holds.

    Sent rows get ``sent_at``; failed rows the reason; rows to retry go back to
    pending with a later ``not_before`` (exponential backoff with jitter), or
    fail once a per-recipient deferral has used DELIVERY_MAX_ATTEMPTS. An
    outage never fails a delivery. With ``release`` (``outcomes`` has every id
    the claim still holds), the claim's fence goes in the same transaction.
    """
    now = now or timezone.now()
    report = RecordReport()
    claimed = Delivery.objects.filter(claim_token=claim.token, status=D.SENDING)
    sent_plain, by_message_id, by_error, later = [], {}, {}, []
    for pk, outcome in outcomes.items():
        if outcome.code == Code.SENT and outcome.provider_message_id:
            by_message_id.setdefault(outcome.provider_message_id[:255], []).append(pk)
        elif outcome.code == Code.SENT:
            sent_plain.append(pk)
        elif outcome.code == Code.FAILED:
            by_error.setdefault(outcome.error, []).append(pk)
        else:
            later.append(pk)
    # A batch API call gives every recipient the same provider id: one UPDATE per
    # id then, instead of bulk_update's per-row CASE, which cost three quarters of
    # a Mailgun batch's time.
    singles = [pks[0] for pks in by_message_id.values() if len(pks) == 1]
    with transaction.atomic():
        # Only what is decided per row is read first: a deferral's attempts, and a single provider
        # id (bulk_update cannot name the claim). Every other UPDATE names the claim itself, so an
        # all-sent batch costs one statement, not a pass that locks and reads each row first.
        read_first = later + singles
        held = dict(claimed.select_for_update().filter(pk__any=read_first).values_list("pk", "attempts")) if read_first else {}
        retries: dict[tuple[int, str], list[int]] = {}
        for pk in later:
            if pk not in held:
                continue
            outcome = outcomes[pk]
            if outcome.code == Code.RETRY and held[pk] >= settings.DELIVERY_MAX_ATTEMPTS:
                by_error.setdefault(f"gave up after {held[pk]} attempts: {outcome.error}", []).append(pk)
            else:
                retries.setdefault((held[pk], outcome.error), []).append(pk)
        if sent_plain:
            report.sent += claimed.filter(pk__any=sent_plain).update(status=D.SENT, sent_at=now, last_error="", updated_at=now)
        for message_id, pks in by_message_id.items():
            if len(pks) > 1:
                report.sent += claimed.filter(pk__any=pks).update(
                    status=D.SENT, sent_at=now, last_error="", updated_at=now, provider_message_id=message_id
                )
        rows = [
            Delivery(pk=pk, status=D.SENT, sent_at=now, last_error="", updated_at=now, provider_message_id=message_id)
            for message_id, (pk, *more) in by_message_id.items()
            if not more and pk in held
        ]
        if rows:
            Delivery.objects.bulk_update(
                rows, ["status", "sent_at", "last_error", "updated_at", "provider_message_id"], batch_size=500
            )
            report.sent += len(rows)
        for error, pks in by_error.items():
            report.failed += claimed.filter(pk__any=pks).update(status=D.FAILED, last_error=error[:2000], updated_at=now)
        for (tries, error), pks in retries.items():
            retry_at = now + retry_delay(tries)
            report.retry_at = min(report.retry_at or retry_at, retry_at)
            report.retried += claimed.filter(pk__any=pks).update(
                status=D.PENDING, not_before=retry_at, last_error=error[:2000], claim_token="", updated_at=now
            )
        if release:
            DeliveryClaim.objects.filter(token=claim.token).delete()
    return report


@dataclass
class SweepReport:
    recovered: int = 0
    requeued: int = 0
    ambiguous: int = 0
    digests: set[int] = field(default_factory=set)  # digests with deliveries back to pending


def deliveries_sweep_stuck(*, now: datetime.datetime | None = None) -> SweepReport:
    """Settle deliveries left ``sending`` by a worker that died; never while a provider call may be in flight.

    A claim is settled once its journal's deadline has passed (the worker
    made no call that could still be running, and it journals again before
    its next one), or, without a journal, once DELIVERY_LEASE_SECONDS have
    passed since the claim: the batch task's hard time limit is shorter than
    the lease, so by then the task has ended one way or another. Outcomes
    found in the journal are applied; never-attempted rows go back to pending;
    the one in flight, if a call was, is ambiguous (see module doc).

    A worker journals a fresh deadline and then re-stamps its claim's fence
    (``deliveries_recheck``) before its first call; the sweeper reads the
    fence's stamp before the journal and settles the claim only while the stamp
    is unchanged, under the fence's lock, so it never settles a claim whose
    worker went on to send. (A claim of the previous release has no fence: its
    rows' ``claimed_at`` is the stamp, each row settled only while its own is
    unchanged.)
    """
    now = now or timezone.now()
    lease_cutoff = now - datetime.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    report = SweepReport()
    # Only digests that can hold a claim, so the due index answers (this runs every few seconds).
    live = Digest.objects.exclude(status__in=[Digest.Status.DRAFT, Digest.Status.SCHEDULED, Digest.Status.SENT])
    claims = (
        Delivery.objects.filter(digest_id__in=list(live.values_list("pk", flat=True)), status=D.SENDING)
        .values("digest_id", "claim_token")
        .annotate(n=Count("pk"))
        .order_by()
    )
    claims = list(claims)
    # Every claim's fence stamp, read before any journal (a stamp read earlier only makes the sweeper warier).
    fences = dict(
        DeliveryClaim.objects.filter(token__in=[row["claim_token"] for row in claims]).values_list("token", "stamped_at")
    )
    for row in claims:
        token = row["claim_token"]
        held = Delivery.objects.filter(digest_id=row["digest_id"], status=D.SENDING, claim_token=token)
        rows = list(held.order_by("pk").values_list("pk", "claimed_at", "digest_id"))
        if not rows:
            continue
        fence = fences.get(token)
        journal = journal_read(token) if token else None
        if journal is not None:
            journal = journal_joined(token, journal)
            if journal.deadline > now.timestamp():
                continue
            codes, in_flight, reasons = journal.codes, journal.in_flight, journal.reasons
        else:
            oldest = fence or min((claimed_at for _, claimed_at, _ in rows if claimed_at), default=None)
            if oldest and oldest > lease_cutoff:
                continue
            codes, in_flight, reasons = None, True, {}
        claim = Claim(token, tuple(pk for pk, _, _ in rows))
        stamps = {claimed_at for _, claimed_at, _ in rows}
        if _settle(claim, codes, in_flight=in_flight, reasons=reasons, stamps=stamps, fence=fence, now=now, report=report):
            report.digests.update(digest_id for _, _, digest_id in rows)
        if token and not held.exists():
            journal_forget(token)
            DeliveryClaim.objects.filter(token=token).delete()
    # A fence left behind (a sweeper stopped between settling a claim and removing it, a digest deleted
    # mid-send): nothing of its digest is sending under it any more.
    DeliveryClaim.objects.filter(stamped_at__lt=lease_cutoff).exclude(
        Exists(Delivery.objects.filter(digest_id=OuterRef("digest_id"), status=D.SENDING, claim_token=OuterRef("token")))
    ).delete()
    return report


def _settle(
    claim: Claim,
    codes: str | None,
    *,
    in_flight: bool,
    reasons: dict[int, str],
    stamps: set,
    fence: datetime.datetime | None,
    now: datetime.datetime,
    report: SweepReport,
) -> int:
    """Apply a dead claim's journal, if its fence still has the stamp ``fence`` (read before the journal), to
    the rows whose ``claimed_at`` is still one of ``stamps``; returns how many it touched."""
    outcomes: dict[int, Outcome] = {}
    ambiguous: list[int] = []
    for index, pk in enumerate(claim.ids):
        # A joined journal marks the call in flight on each connection, and what no connection reached.
        code = codes[index] if codes is not None and index < len(codes) else None
        if codes is None or code == IN_FLIGHT:
            ambiguous.append(pk)
        elif code == NOT_ATTEMPTED:
            outcomes[pk] = None
        elif index < len(codes):
            error = reasons.get(index) or "outcome recovered from the journal of a worker that died"
            outcomes[pk] = Outcome(Code(codes[index]), error=error)
        elif index == len(codes) and in_flight:
            ambiguous.append(pk)
        else:
            outcomes[pk] = None  # never attempted
    recorded = {pk: outcome for pk, outcome in outcomes.items() if outcome is not None}
    untouched = [pk for pk, outcome in outcomes.items() if outcome is None]
    why = f"ambiguous: the worker holding claim {claim.token or '(none)'} died while the provider call was in flight; sent again with the same Message-ID"
    unchanged = Q(claimed_at__in=stamps - {None})
    if None in stamps:
        unchanged |= Q(claimed_at__isnull=True)
    abandoned = Delivery.objects.filter(unchanged, claim_token=claim.token, status=D.SENDING)
    moved: list[tuple[int, int]] = []
    with transaction.atomic():
        if fence is not None:
            # Locked until this settling commits: a worker re-checking the claim waits, then finds what it left.
            fenced = DeliveryClaim.objects.select_for_update().filter(token=claim.token)
            if fenced.values_list("stamped_at", flat=True).first() != fence:
                return 0  # the worker went on to send (or its batch ended): it records the claim itself
        if recorded:
            # Journalled outcomes are facts (the calls returned): they are recorded whatever the worker does next.
            deliveries_record(claim, recorded, now=now)
            report.recovered += len(recorded)
        if untouched:
            report.requeued += abandoned.filter(pk__in=untouched).update(status=D.PENDING, claim_token="", updated_at=now)
        if ambiguous:
            moved = list(abandoned.select_for_update().filter(pk__in=ambiguous).values_list("pk", "subscriber_id"))
            Delivery.objects.filter(pk__in=[pk for pk, _ in moved]).update(
                status=D.PENDING, claim_token="", last_error=why, updated_at=now
            )
            DeliveryEvent.objects.bulk_create(
                [
                    DeliveryEvent(
                        delivery_id=pk,
                        subscriber_id=subscriber_id,
                        provider="ledger",
                        event_type="ambiguous",
                        description=why,
                        occurred_at=now,
                    )
                    for pk, subscriber_id in moved
                ]
            )
            report.ambiguous += len(moved)
    if moved:
        log.warning("claim %s: %d ambiguous deliveries re-queued", claim.token, len(moved))
    return len(recorded) + len(untouched) + len(moved)


# --- Control and progress --------------------------------------------------------------------


def deliveries_cancel(digest_id: int, *, reason: str = "send cancelled") -> int:
    """Mark every delivery of the digest that has not been handed to a provider as cancelled."""
    return Delivery.objects.filter(digest_id=digest_id, status=D.PENDING).update(
        status=D.CANCELLED, last_error=reason, updated_at=timezone.now()
    )


def deliveries_release_now(digest_id: int, *, now: datetime.datetime | None = None) -> int:
    """Make every pending delivery of the digest due now (an editor's "send now")."""
    now = now or timezone.now()
    return Delivery.objects.filter(digest_id=digest_id, status=D.PENDING, not_before__gt=now).update(not_before=now)


def deliveries_counts(digest_id: int) -> dict[str, int]:
    """Deliveries of the digest by status (every status present, zeros included).

    On PostgreSQL the database keeps these counters (DeliveryCount), so this
    reads a few rows however large the send; elsewhere it counts.
    """
    counts = {status: 0 for status in D.values}
    if connection.vendor == "postgresql":
        rows = DeliveryCount.objects.filter(digest_id=digest_id).values_list("status", "count")
    else:
        rows = Delivery.objects.filter(digest_id=digest_id).values_list("status").annotate(n=Count("pk")).order_by()
    for status, n in rows:
        counts[status] = n
    return counts


def deliveries_due_exists(digest_id: int, *, now: datetime.datetime) -> bool:
    return Delivery.objects.filter(digest_id=digest_id, status=D.PENDING, not_before__lte=now).exists()


def deliveries_unfinished_exists(digest_id: int) -> bool:
    return Delivery.objects.filter(digest_id=digest_id).filter(Q(status=D.PENDING) | Q(status=D.SENDING)).exists()
