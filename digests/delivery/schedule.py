"""When digests go out: scheduling, the per-minute dispatcher, local-morning release, the stale guard.

A daily digest's ``scheduled_at`` is its morning: each reader is due at that
wall-clock time (date and time of day in the site's zone) in their own time
zone (DIGEST_LOCAL_TIME_DELIVERY; off, everyone at the instant itself).

A weekly digest's ``scheduled_at`` is when its send starts, by default the day
after its issue date (the last day it covers) at DIGEST_SEND_TIME. Each reader
is due on the first day on or after that wall-clock date that is their weekly
day, at the scheduled time of day in their own zone (in the site's zone with
local time off). The digest therefore stays ``sending`` for up to a week, its
ledger rows pending until their day; pause, resume and cancel act on what is
left. For the stale guard it ages from the end of that delivery week (its
default send date and the six days after), so neither the week it covers nor
the spread of weekdays makes it stale.
Releases are computed once per time zone (and weekday), never per reader.
"Send now" makes every reader due at once, whatever the edition.

Starting a send is one conditional UPDATE of the digest's status
(``digest_transition``) in the same transaction as the audience snapshot, so
two beat processes, a restart across the send time or a double click start a
digest at most once, and a started digest always has its whole ledger.
"""

from __future__ import annotations

import datetime
import logging
import math
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from digests import queue
from digests.content.services import TransitionError, digest_transition
from digests.delivery.audience import digest_readers
from digests.delivery.batch import BatchReport, batch_size
from digests.delivery.ledger import (
    SnapshotReport,
    SweepReport,
    deliveries_cancel,
    deliveries_due_exists,
    deliveries_snapshot,
    deliveries_sweep_stuck,
    deliveries_unfinished_exists,
)
from digests.models import Delivery, Digest
from digests.models.readers import WEEKDAYS
from digests.queue import enqueue
from digests.webhooks.events import digest_data, event_emit

log = logging.getLogger(__name__)

LANES_KEY = "delivery:lanes:{digest_id}"
LANES_TTL = 90
STALLED_KEY = "delivery:stalled:{digest_id}"
WEEKLY_SPREAD_DAYS = 6  # a weekly's readers are due on its send date or one of the six days after


class StaleDigest(ValueError):
    """The issue date is older than DIGEST_STALE_AFTER_DAYS and the editor did not override it.

    The message names the setting; each entry point adds its own way to
    override it (``--allow-stale`` on the command line, a tick box in the admin).
    """

    def __init__(self, digest: Digest, *, age_days: int):
        self.digest_id = digest.pk
        self.age_days = age_days
        if digest.is_weekly:
            what = f"The weekly edition of {digest.issue_date.isoformat()} is {age_days} days past its delivery week"
        else:
            what = f"The digest of {digest.issue_date.isoformat()} is {age_days} days old"
        super().__init__(f"{what}, older than DIGEST_STALE_AFTER_DAYS ({settings.DIGEST_STALE_AFTER_DAYS}) allows")


def site_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def reader_zone(name: str) -> zoneinfo.ZoneInfo:
    """The reader's zone, or the site's when it is empty or unknown."""
    try:
        return zoneinfo.ZoneInfo(name) if name else site_zone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return site_zone()


def default_send_time(digest: Digest) -> datetime.datetime:
    """The issue date at DIGEST_SEND_TIME in the site's time zone; for a weekly edition, the day after it.

    A weekly's issue date is the last day it covers, so its send starts once that day is over.
    """
    hours, _, minutes = settings.DIGEST_SEND_TIME.partition(":")
    local = datetime.time(int(hours), int(minutes or 0))
    return datetime.datetime.combine(_default_send_date(digest), local, tzinfo=site_zone())


def _default_send_date(digest: Digest) -> datetime.date:
    return digest.issue_date + datetime.timedelta(days=1) if digest.is_weekly else digest.issue_date


def local_release(scheduled_at: datetime.datetime, tz_name: str) -> datetime.datetime:
    """The scheduled wall-clock time (date and time of day in the site's zone) in the reader's zone."""
    wall = scheduled_at.astimezone(site_zone())
    return datetime.datetime.combine(wall.date(), wall.time().replace(tzinfo=None), tzinfo=reader_zone(tz_name))


def weekly_release(scheduled_at: datetime.datetime, tz_name: str, weekday: str, *, local: bool) -> datetime.datetime:
    """A weekly reader's copy: the first ``weekday`` on or after the scheduled wall-clock date, at its time of day.

    In the reader's zone when ``local`` (DIGEST_LOCAL_TIME_DELIVERY), else in the site's.
    """
    wall = scheduled_at.astimezone(site_zone())
    ahead = (WEEKDAYS.index(weekday) - wall.weekday()) % 7 if weekday else 0
    day = wall.date() + datetime.timedelta(days=ahead)
    zone = reader_zone(tz_name) if local else site_zone()
    return datetime.datetime.combine(day, wall.time().replace(tzinfo=None), tzinfo=zone)


def release_function(digest: Digest, *, now: datetime.datetime, immediate: bool):
    """How each reader's earliest send time is computed for this start: ``release(tz_name, weekday="")``."""
    if immediate or digest.scheduled_at is None:
        return lambda tz_name, weekday="": now
    local = settings.DIGEST_LOCAL_TIME_DELIVERY
    if digest.is_weekly:
        return lambda tz_name, weekday="": weekly_release(digest.scheduled_at, tz_name, weekday, local=local)
    if local:
        return lambda tz_name, weekday="": local_release(digest.scheduled_at, tz_name)
    return lambda tz_name, weekday="": digest.scheduled_at


def digest_first_release(digest: Digest) -> datetime.datetime:
    """The earliest moment any reader of a scheduled digest is due: when the send must start.

    One release per time zone (and weekday, for a weekly) present among the
    digest's readers; the scheduled time itself when it has none.
    """
    if not digest.is_weekly and not settings.DIGEST_LOCAL_TIME_DELIVERY:
        return digest.scheduled_at
    release = release_function(digest, now=digest.scheduled_at, immediate=False)
    readers = digest_readers(digest)
    if digest.is_weekly:
        groups = set(readers.values_list("timezone", "weekly_day").distinct())
    else:
        groups = {(name, "") for name in readers.values_list("timezone", flat=True).distinct()} | {("", "")}
    return min((release(name, weekday) for name, weekday in groups), default=digest.scheduled_at)


def digest_age_days(digest: Digest, *, now: datetime.datetime) -> int:
    """Whole days between the digest's default send date and today in the site's time zone.

    A daily's default send date is its issue date. A weekly's is the day after
    the week it covers, and its readers' copies go out over that day and the
    six after it (their weekdays), so a weekly ages only once that delivery
    week is over: a send that starts on a Saturday because its first reader
    reads on Saturdays is not late.
    """
    age = (now.astimezone(site_zone()).date() - _default_send_date(digest)).days
    return age - WEEKLY_SPREAD_DAYS if digest.is_weekly else age


def digest_is_stale(digest: Digest, *, now: datetime.datetime) -> bool:
    return digest_age_days(digest, now=now) > settings.DIGEST_STALE_AFTER_DAYS


def digest_schedule(digest: Digest, *, at: datetime.datetime | None = None, allow_stale: bool = False) -> Digest:
    """Schedule a draft (or reschedule a scheduled digest) for ``at``, by default its issue date at DIGEST_SEND_TIME."""
    at = at or default_send_time(digest)
    changes = {"scheduled_at": at, "allow_stale": allow_stale}
    if digest.status == Digest.Status.SCHEDULED:
        updated = Digest.objects.filter(pk=digest.pk, status=Digest.Status.SCHEDULED).update(**changes, updated_at=timezone.now())
        if not updated:
            raise TransitionError("The digest changed status meanwhile; reload and try again.")
        for name, value in changes.items():
            setattr(digest, name, value)
        event_emit("digest.scheduled", digest_data(digest))
        return digest
    return digest_transition(digest, to=Digest.Status.SCHEDULED, **changes)


def digest_return_to_draft(digest: Digest) -> Digest:
    """Withdraw a Publisher's approval: a scheduled digest becomes an unscheduled draft that editors can change."""
    if digest.status != Digest.Status.SCHEDULED:
        raise TransitionError(
            gettext("Only a scheduled digest can be returned to draft; this one is “%(status)s”.")
            % {"status": digest.get_status_display()}
        )
    return digest_transition(digest, to=Digest.Status.DRAFT, scheduled_at=None)


def digest_start(
    digest: Digest, *, now: datetime.datetime | None = None, immediate: bool = False, allow_stale: bool | None = None
) -> SnapshotReport:
    """Start sending: move to ``sending`` and snapshot the audience, atomically; enqueue the first batches.

    Raises TransitionError if the digest was started (or changed) by someone
    else first, StaleDigest when the issue is too old and not overridden.
    ``immediate`` makes every reader due now ("send now").
    """
    now = now or timezone.now()
    allow_stale = digest.allow_stale if allow_stale is None else allow_stale
    if not allow_stale and digest_is_stale(digest, now=now):
        raise StaleDigest(digest, age_days=digest_age_days(digest, now=now))
    fields = {"allow_stale": allow_stale}
    if immediate or digest.scheduled_at is None:
        fields["scheduled_at"] = now
    with transaction.atomic():
        digest_transition(digest, to=Digest.Status.SENDING, **fields)
        report = deliveries_snapshot(digest, release=release_function(digest, now=now, immediate=immediate))
        transaction.on_commit(lambda: deliveries_kick(digest.pk, now=now, force=True))
    log.info("digest %s started: %d to send, %d skipped", digest.pk, report.pending, report.skipped)
    return report


def digest_pause(digest: Digest) -> Digest:
    """Stop new batches at once; batches already handed to the provider finish."""
    return digest_transition(digest, to=Digest.Status.PAUSED)


def digest_resume(digest: Digest) -> Digest:
    """Continue with exactly the deliveries not yet sent."""
    digest_transition(digest, to=Digest.Status.SENDING)
    transaction.on_commit(lambda: deliveries_kick(digest.pk, force=True))
    return digest


def digest_cancel(digest: Digest) -> int:
    """Cancel the send (or the schedule): every delivery not yet handed over becomes cancelled."""
    with transaction.atomic():
        digest_transition(digest, to=Digest.Status.CANCELLED)
        return deliveries_cancel(digest.pk)


def deliveries_kick(digest_id: int, *, now: datetime.datetime | None = None, force: bool = False) -> int:
    """Make sure batches run for a sending digest's due deliveries; mark it sent when nothing is left.

    Batch tasks continue themselves while work is due and refresh a heartbeat;
    new ones are enqueued only when the heartbeat is missing (or ``force``).
    Returns the number of batch tasks enqueued.
    """
    now = now or timezone.now()
    if not deliveries_due_exists(digest_id, now=now):
        if not deliveries_unfinished_exists(digest_id):
            digest_finish(digest_id)
        return 0
    key = LANES_KEY.format(digest_id=digest_id)
    if not force and cache.get(key):
        return 0
    due = Delivery.objects.filter(digest_id=digest_id, status=Delivery.Status.PENDING, not_before__lte=now)
    size = batch_size()
    cap = settings.DELIVERY_PARALLEL_BATCHES
    lanes = min(cap, math.ceil(due.values("pk")[: cap * size].count() / size))
    cache.set(key, "1", timeout=LANES_TTL)
    for _ in range(lanes):
        enqueue(queue.SEND_BATCH, digest_id, on_commit=False)
    return lanes


def batch_continue(digest_id: int, report: BatchReport) -> None:
    """After a batch: queue the next while a full batch was due, else wait for retries and finish."""
    if report.full:
        enqueue(queue.SEND_BATCH, digest_id, on_commit=False)
        return
    lanes_heartbeat(digest_id, alive=False)
    if report.retry_at:
        delay = max(1.0, (report.retry_at - timezone.now()).total_seconds())
        enqueue(queue.SEND_BATCH, digest_id, countdown=delay, on_commit=False)
    digest_finish(digest_id)


def deliveries_recover(*, now: datetime.datetime | None = None) -> SweepReport:
    """The sweeper's tick (every few seconds): settle claims their workers abandoned and keep sends moving.

    A digest whose deliveries went back to pending gets fresh batches at once:
    the dead worker's lanes may still look alive for LANES_TTL. So does one
    whose batches are gone without leaving a claim (a worker killed between
    two batches): due deliveries and no claim at two ticks in a row. Every
    other sending digest is kicked as the dispatcher would.
    """
    report = deliveries_sweep_stuck(now=now)
    now = now or timezone.now()
    for digest_id in Digest.objects.filter(status=Digest.Status.SENDING).values_list("pk", flat=True):
        lost = digest_id in report.digests or _lanes_lost(digest_id, now=now)
        deliveries_kick(digest_id, now=now, force=lost)
    return report


def _lanes_lost(digest_id: int, *, now: datetime.datetime) -> bool:
    # A live lane holds a claim but for the milliseconds between two batches,
    # so seeing none twice, a tick apart, while deliveries are due means none runs.
    key = STALLED_KEY.format(digest_id=digest_id)
    claimed = Delivery.objects.filter(digest_id=digest_id, status=Delivery.Status.SENDING).exists()
    if claimed or not deliveries_due_exists(digest_id, now=now):
        cache.delete(key)
        return False
    if cache.get(key):
        cache.delete(key)
        return True
    cache.set(key, "1", timeout=LANES_TTL)
    return False


def lanes_heartbeat(digest_id: int, *, alive: bool) -> None:
    key = LANES_KEY.format(digest_id=digest_id)
    if alive:
        cache.set(key, "1", timeout=LANES_TTL)
    else:
        cache.delete(key)


def digest_finish(digest_id: int) -> bool:
    """Mark a sending digest sent once no delivery is pending or sending; False if not (yet)."""
    digest = Digest.objects.filter(pk=digest_id, status=Digest.Status.SENDING).first()
    if digest is None or deliveries_unfinished_exists(digest_id):
        return False
    try:
        digest_transition(digest, to=Digest.Status.SENT)
    except TransitionError:
        return False
    return True


@dataclass
class DispatchReport:
    started: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    kicked: dict[int, int] = field(default_factory=dict)


def digests_dispatch_due(*, now: datetime.datetime | None = None) -> DispatchReport:
    """The per-minute tick: start every scheduled digest whose first reader is due, keep sends moving.

    Safe to run concurrently and repeatedly: a start is one conditional update.
    """
    now = now or timezone.now()
    report = DispatchReport()
    due = Digest.objects.filter(status=Digest.Status.SCHEDULED, scheduled_at__isnull=False)
    # Awaiting a Publisher's approval (autopilot review): never started until approved.
    due = due.exclude(autopilot=Digest.Autopilot.AWAITING_APPROVAL)
    for digest in due.order_by("scheduled_at"):
        if digest_first_release(digest) > now:
            continue
        try:
            digest_start(digest, now=now)
        except StaleDigest as exc:
            report.stale.append(digest.pk)
            log.warning("not starting digest %s: %s", digest.pk, exc)
        except TransitionError:
            continue
        else:
            report.started.append(digest.pk)
    for digest in Digest.objects.filter(status__in=[Digest.Status.SENDING, Digest.Status.PAUSED]).only(
        "pk", "status", "edition", "send_started_at"
    ):
        if digest.status == Digest.Status.SENDING:
            report.kicked[digest.pk] = deliveries_kick(digest.pk, now=now)
    return report
