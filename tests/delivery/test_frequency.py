"""Spec: a reader's frequency decides which editions they receive, their weekday when the weekly one arrives.

Daily readers get the daily edition, weekly readers the weekly one, ``both``
readers both. A weekly edition starts the day after the week it covers and
reaches each reader on their weekday at the usual send time in their own zone,
through the same ledger as a daily: exactly once, per variant, per slot.
"""

import datetime
import random
import zoneinfo

import pytest
from django.db import connection
from django.urls import reverse

from digests.delivery import ledger
from digests.delivery.audience import digest_audience
from digests.delivery.schedule import (
    StaleDigest,
    default_send_time,
    digest_cancel,
    digest_first_release,
    digest_pause,
    digest_resume,
    digest_schedule,
    digest_start,
    digests_dispatch_due,
    release_function,
)
from digests.models import Category, Delivery, Digest, Item, Subscriber
from digests.models.readers import WEEKDAYS

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
LOS_ANGELES = zoneinfo.ZoneInfo("America/Los_Angeles")
UTC = datetime.UTC

# The weekly edition of Monday 23 February to Sunday 1 March 2026. Its send starts
# on Monday 2 March; the United States move their clocks forward on Sunday 8 March.
WEEK_START, WEEK_END = datetime.date(2026, 2, 23), datetime.date(2026, 3, 1)
SEND_STARTS = datetime.datetime(2026, 3, 2, 7, 30, tzinfo=SHANGHAI)
WEEKDAY_DATES = {
    "mon": datetime.date(2026, 3, 2),
    "tue": datetime.date(2026, 3, 3),
    "wed": datetime.date(2026, 3, 4),
    "thu": datetime.date(2026, 3, 5),
    "fri": datetime.date(2026, 3, 6),
    "sat": datetime.date(2026, 3, 7),
    "sun": datetime.date(2026, 3, 8),
}


def weekly_of(daily: Digest, *, issue_date=WEEK_END, leave_out=()) -> Digest:
    """A weekly edition carrying ``daily``'s items (but those of the categories in ``leave_out``)."""
    weekly = Digest.objects.create(
        edition=Digest.Edition.WEEKLY,
        issue_date=issue_date,
        period_start=issue_date - datetime.timedelta(days=6),
        title=f"AI 行业动态 周刊 ({issue_date.isoformat()})",
    )
    for item in Item.objects.filter(digest=daily).exclude(category__in=leave_out):
        item.pk, item.digest = None, weekly
        item.save()
    return weekly


@pytest.fixture
def weekly(seed_digest):
    return weekly_of(seed_digest)


@pytest.fixture
def by_frequency(db):
    return {
        frequency: Subscriber.objects.create(email=f"{frequency}@example.org", status="active", frequency=frequency)
        for frequency in ("daily", "weekly", "both")
    }


def _recipients(digest) -> set[str]:
    return set(Delivery.objects.filter(digest=digest).values_list("subscriber__email", flat=True))


def _not_before(digest) -> dict[str, datetime.datetime]:
    return dict(Delivery.objects.filter(digest=digest).values_list("subscriber__email", "not_before"))


# --- Who gets which edition ----------------------------------------------------------------


def test_a_daily_digest_goes_to_daily_and_both_readers_never_to_weekly_ones(seed_digest, by_frequency):
    report = digest_start(seed_digest, immediate=True, allow_stale=True)

    assert _recipients(seed_digest) == {"daily@example.org", "both@example.org"}
    assert (report.pending, report.skipped) == (2, 0)


def test_a_weekly_digest_goes_to_weekly_and_both_readers_never_to_daily_ones(weekly, by_frequency):
    report = digest_start(weekly, immediate=True, allow_stale=True)

    assert _recipients(weekly) == {"weekly@example.org", "both@example.org"}
    assert (report.pending, report.skipped) == (2, 0)


def test_a_weekly_reader_whose_categories_had_nothing_all_week_gets_nothing(seed_digest, by_frequency):
    policy = Category.objects.get(name="政策与监管")
    weekly = weekly_of(seed_digest, leave_out=[policy])
    quiet_week = Subscriber.objects.create(email="policy@example.org", status="active", frequency="weekly")
    quiet_week.categories.set([policy])

    report = digest_start(weekly, immediate=True, allow_stale=True)

    row = Delivery.objects.get(digest=weekly, subscriber=quiet_week)
    assert (row.status, row.last_error) == ("skipped", ledger.SKIP_REASON)
    assert (report.pending, report.skipped) == (2, 1)


def test_the_audience_before_a_send_counts_only_the_editions_readers_and_the_ledger_agrees(weekly, by_frequency):
    Subscriber.objects.create(email="sunday@example.org", status="active", frequency="weekly", weekly_day="sun")
    Subscriber.objects.create(email="gone@example.org", status="unsubscribed", frequency="weekly")

    before = digest_audience(digest=weekly)
    report = digest_start(weekly, immediate=True, allow_stale=True)

    assert before.recipients == report.pending == 3
    assert before.by_weekday == {"sat": 2, "sun": 1}
    daily_audience = digest_audience(digest=Digest.objects.get(edition="daily"))
    assert daily_audience.recipients == 2 and daily_audience.by_weekday == {}


@pytest.mark.usefixtures("english")
def test_the_sending_page_shows_the_weekly_audience_per_weekday(publisher_client, weekly, by_frequency):
    Subscriber.objects.create(email="sunday@example.org", status="active", frequency="weekly", weekly_day="sun")

    html = publisher_client.get(reverse("admin:digests_digest_sending", args=[weekly.pk])).content.decode()

    assert 'id="p-audience">3<' in html
    weekdays = html[html.index('id="audience-weekdays"') :]
    assert "<td>Saturday</td><td>2</td>" in weekdays and "<td>Sunday</td><td>1</td>" in weekdays
    assert "to 3 readers?" in html  # the "send now" confirmation


def test_in_chinese_the_weekdays_and_the_weekly_rule_read_in_chinese(publisher_client, weekly, by_frequency):
    digest_schedule(weekly)
    html = publisher_client.get(
        reverse("admin:digests_digest_sending", args=[weekly.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()

    assert "<td>星期六</td><td>2</td>" in html
    assert "周刊在每位读者选定的星期几送达" in html


def test_running_the_weekly_snapshot_twice_adds_nobody_twice(weekly, by_frequency):
    release = release_function(weekly, now=SEND_STARTS, immediate=True)
    first = ledger.deliveries_snapshot(weekly, release=release)
    late = Subscriber.objects.create(email="late@example.org", status="active", frequency="both", weekly_day="tue")
    again = ledger.deliveries_snapshot(weekly, release=release)

    assert (first.pending, again.pending, again.skipped) == (2, 1, 0)
    assert Delivery.objects.filter(digest=weekly).count() == 3
    assert Delivery.objects.filter(digest=weekly, subscriber=late).count() == 1


@pytest.mark.parametrize("path", ["set-based", "chunked"])
def test_a_reader_in_a_new_zone_who_confirms_during_the_snapshot_is_left_out_not_an_error(
    weekly, by_frequency, path, monkeypatch
):
    if path == "set-based" and connection.vendor != "postgresql":
        pytest.skip("the set-based snapshot is PostgreSQL's")
    if path == "chunked":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    computed = release_function(weekly, now=SEND_STARTS, immediate=True)

    def release_while_a_reader_confirms(tz_name, weekday=""):
        Subscriber.objects.get_or_create(
            email="auckland@example.org",
            defaults={"status": "active", "frequency": "weekly", "timezone": "Pacific/Auckland", "weekly_day": "tue"},
        )
        return computed(tz_name, weekday)

    first = ledger.deliveries_snapshot(weekly, release=release_while_a_reader_confirms)
    again = ledger.deliveries_snapshot(weekly, release=computed)

    assert (first.pending, again.pending) == (2, 1)
    assert _recipients(weekly) == {"weekly@example.org", "both@example.org", "auckland@example.org"}


# --- When weekly readers get theirs --------------------------------------------------------


def test_a_weekly_edition_starts_the_day_after_the_week_it_covers_at_the_send_time(weekly, seed_digest):
    assert default_send_time(weekly) == SEND_STARTS
    assert digest_schedule(weekly).scheduled_at == SEND_STARTS
    assert default_send_time(seed_digest) == datetime.datetime(2026, 2, 6, 7, 30, tzinfo=SHANGHAI)


@pytest.fixture
def week_of_readers(db):
    """A weekly reader on every weekday in Shanghai, Berlin and Los Angeles, and one in the site's zone."""
    readers = {}
    for zone in ("Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles"):
        for day in WEEKDAYS:
            readers[(zone, day)] = Subscriber.objects.create(
                email=f"{day}.{zone.replace('/', '.')}@example.org",
                status="active",
                frequency="weekly",
                weekly_day=day,
                timezone=zone,
            )
    readers[("", "wed")] = Subscriber.objects.create(
        email="site@example.org", status="active", frequency="both", weekly_day="wed", timezone=""
    )
    return readers


def test_each_weekly_reader_is_due_on_their_weekday_at_the_send_time_in_their_own_zone(weekly, week_of_readers, settings):
    settings.DIGEST_LOCAL_TIME_DELIVERY = True
    digest_schedule(weekly)
    digest_start(weekly, now=SEND_STARTS)

    due = _not_before(weekly)
    for (zone, day), reader in week_of_readers.items():
        tz = zoneinfo.ZoneInfo(zone or settings.TIME_ZONE)
        assert due[reader.email] == datetime.datetime.combine(WEEKDAY_DATES[day], datetime.time(7, 30), tzinfo=tz), (zone, day)
    # Across the change to summer time, 07:30 in Los Angeles moves an hour earlier in UTC.
    la = {day: due[week_of_readers[("America/Los_Angeles", day)].email].astimezone(UTC) for day in ("sat", "sun")}
    assert la == {
        "sat": datetime.datetime(2026, 3, 7, 15, 30, tzinfo=UTC),
        "sun": datetime.datetime(2026, 3, 8, 14, 30, tzinfo=UTC),
    }
    assert due[week_of_readers[("Asia/Shanghai", "mon")].email] == SEND_STARTS
    assert due[week_of_readers[("Europe/Berlin", "sun")].email] == datetime.datetime(2026, 3, 8, 6, 30, tzinfo=UTC)


def test_without_local_time_weekly_readers_are_due_on_their_weekday_at_the_sites_send_time(weekly, week_of_readers, settings):
    settings.DIGEST_LOCAL_TIME_DELIVERY = False
    digest_schedule(weekly)
    digest_start(weekly, now=SEND_STARTS)

    due = _not_before(weekly)
    for (_zone, day), reader in week_of_readers.items():
        assert due[reader.email] == datetime.datetime.combine(WEEKDAY_DATES[day], datetime.time(7, 30), tzinfo=SHANGHAI)


def test_a_weekly_edition_scheduled_midweek_reaches_each_reader_on_their_next_weekday(weekly, week_of_readers, settings):
    settings.DIGEST_LOCAL_TIME_DELIVERY = False
    thursday_evening = datetime.datetime(2026, 3, 5, 18, 0, tzinfo=SHANGHAI)
    digest_schedule(weekly, at=thursday_evening, allow_stale=True)
    digest_start(weekly, now=thursday_evening)

    due = _not_before(weekly)
    assert due["thu.Europe.Berlin@example.org"] == thursday_evening
    assert due["fri.Europe.Berlin@example.org"] == datetime.datetime(2026, 3, 6, 18, 0, tzinfo=SHANGHAI)
    assert due["wed.Europe.Berlin@example.org"] == datetime.datetime(2026, 3, 11, 18, 0, tzinfo=SHANGHAI)


def test_send_now_makes_every_weekly_reader_due_at_once(weekly, week_of_readers):
    now = SEND_STARTS - datetime.timedelta(hours=3)
    digest_start(weekly, now=now, immediate=True)
    assert set(_not_before(weekly).values()) == {now}


def test_the_dispatcher_starts_a_weekly_edition_when_its_first_readers_day_comes(weekly, settings):
    settings.DIGEST_LOCAL_TIME_DELIVERY = True
    for zone, day in (("America/Los_Angeles", "sat"), ("Europe/Berlin", "sun")):
        Subscriber.objects.create(email=f"{day}@example.org", status="active", frequency="weekly", weekly_day=day, timezone=zone)
    Subscriber.objects.create(email="daily@example.org", status="active", frequency="daily", timezone="Pacific/Kiritimati")
    digest_schedule(weekly)
    saturday_in_la = datetime.datetime(2026, 3, 7, 7, 30, tzinfo=LOS_ANGELES)

    assert digest_first_release(weekly) == saturday_in_la
    assert digests_dispatch_due(now=SEND_STARTS).started == []
    assert digests_dispatch_due(now=saturday_in_la - datetime.timedelta(minutes=1)).started == []
    assert digests_dispatch_due(now=saturday_in_la).started == [weekly.pk]
    assert _recipients(weekly) == {"sat@example.org", "sun@example.org"}


def test_the_progress_tells_readers_waiting_for_their_day_from_those_due_now(weekly, week_of_readers, settings):
    from digests.delivery.batch import deliveries_send_batch
    from digests.delivery.progress import digest_progress

    settings.DIGEST_LOCAL_TIME_DELIVERY = False
    digest_schedule(weekly)
    digests_dispatch_due(now=SEND_STARTS)
    deliveries_send_batch(weekly.pk, now=SEND_STARTS)
    tuesday = datetime.datetime.combine(WEEKDAY_DATES["tue"], datetime.time(7, 30), tzinfo=SHANGHAI)

    progress = digest_progress(Digest.objects.get(pk=weekly.pk), now=SEND_STARTS)

    assert (progress.sent, progress.pending, progress.waiting) == (3, 19, 19)
    assert progress.next_release == tuesday
    assert progress.eta_seconds is None  # nothing is late: the rest wait for their weekday
    assert datetime.datetime.fromisoformat(progress.as_dict()["next_release"]) == tuesday


@pytest.mark.usefixtures("english")
def test_the_sending_page_shows_how_many_readers_wait_and_when_the_next_are_due(publisher_client, seed_digest, settings):
    from django.utils import timezone

    settings.DIGEST_LOCAL_TIME_DELIVERY = False
    today = timezone.localdate(timezone=SHANGHAI)
    weekly = weekly_of(seed_digest, issue_date=today - datetime.timedelta(days=1))
    for offset in (1, 2):
        day = WEEKDAYS[(today + datetime.timedelta(days=offset)).weekday()]
        Subscriber.objects.create(email=f"{day}@example.org", status="active", frequency="weekly", weekly_day=day)
    digest_schedule(weekly)
    digest_start(Digest.objects.get(pk=weekly.pk), now=timezone.now())

    html = publisher_client.get(reverse("admin:digests_digest_sending", args=[weekly.pk])).content.decode()

    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    assert f'id="p-waiting">2</span> (next at {tomorrow} 07:30)' in html


# --- The stale guard -------------------------------------------------------------------------


def test_a_weekly_edition_is_not_stale_for_covering_last_week_nor_for_reaching_sunday_readers(weekly, week_of_readers, settings):
    from digests.delivery.batch import deliveries_send_batch

    settings.DIGEST_STALE_AFTER_DAYS = 0
    settings.DIGEST_LOCAL_TIME_DELIVERY = False
    digest_schedule(weekly)

    assert digests_dispatch_due(now=SEND_STARTS).started == [weekly.pk]
    sunday = datetime.datetime.combine(WEEKDAY_DATES["sun"], datetime.time(7, 30), tzinfo=SHANGHAI)
    for day in WEEKDAY_DATES.values():
        digests_dispatch_due(now=datetime.datetime.combine(day, datetime.time(7, 30), tzinfo=SHANGHAI))
        deliveries_send_batch(weekly.pk, now=datetime.datetime.combine(day, datetime.time(7, 30), tzinfo=SHANGHAI))
    digests_dispatch_due(now=sunday)

    assert set(Delivery.objects.filter(digest=weekly).values_list("status", flat=True)) == {"sent"}
    assert Digest.objects.get(pk=weekly.pk).status == "sent"


def test_a_weekly_edition_ages_only_once_its_delivery_week_is_over(weekly, by_frequency, settings):
    settings.DIGEST_STALE_AFTER_DAYS = 2
    digest_schedule(weekly)
    # The delivery week runs Monday 2 to Sunday 8 March; two days after it is Tuesday 10 March.
    too_late = datetime.datetime(2026, 3, 11, 7, 30, tzinfo=SHANGHAI)

    report = digests_dispatch_due(now=too_late)

    assert report.started == [] and report.stale == [weekly.pk]
    with pytest.raises(StaleDigest, match="weekly edition of 2026-03-01 is 3 days past its delivery week"):
        digest_start(Digest.objects.get(pk=weekly.pk), now=too_late, immediate=True)
    assert digest_start(Digest.objects.get(pk=weekly.pk), now=too_late - datetime.timedelta(days=1)).pending == 2


# --- One send across the week ----------------------------------------------------------------


def test_a_weekly_send_stays_open_across_the_week_and_can_be_paused_resumed_and_cancelled(weekly, week_of_readers, settings):
    from digests.delivery.batch import deliveries_send_batch

    settings.DIGEST_LOCAL_TIME_DELIVERY = False
    digest_schedule(weekly)
    digests_dispatch_due(now=SEND_STARTS)
    tuesday = datetime.datetime.combine(WEEKDAY_DATES["tue"], datetime.time(7, 30), tzinfo=SHANGHAI)

    assert deliveries_send_batch(weekly.pk, now=tuesday).sent == 6  # Monday's and Tuesday's readers
    digests_dispatch_due(now=tuesday)
    assert Digest.objects.get(pk=weekly.pk).status == "sending"

    digest_pause(Digest.objects.get(pk=weekly.pk))
    wednesday = tuesday + datetime.timedelta(days=1)
    assert deliveries_send_batch(weekly.pk, now=wednesday).sent == 0
    digest_resume(Digest.objects.get(pk=weekly.pk))
    assert deliveries_send_batch(weekly.pk, now=wednesday).sent == 4  # Wednesday's readers, the site's one included

    assert digest_cancel(Digest.objects.get(pk=weekly.pk)) == 12  # Thursday to Sunday
    counts = dict.fromkeys(("sent", "cancelled"), 0)
    for status in Delivery.objects.filter(digest=weekly).values_list("status", flat=True):
        counts[status] += 1
    assert counts == {"sent": 10, "cancelled": 12}


def test_a_reader_who_switches_to_daily_midweek_does_not_get_that_weeks_weekly(weekly, week_of_readers, settings):
    from digests.delivery.batch import deliveries_send_batch
    from digests.readers.frequency import subscriber_frequency_set

    settings.DIGEST_LOCAL_TIME_DELIVERY = False
    digest_schedule(weekly)
    digests_dispatch_due(now=SEND_STARTS)
    switcher = week_of_readers[("Europe/Berlin", "sat")]
    unchanged = week_of_readers[("Europe/Berlin", "sun")]
    for reader, new in ((switcher, "daily"), (unchanged, "both")):
        subscriber_frequency_set(reader, frequency=new, via="preferences")
    wednesday = datetime.datetime.combine(WEEKDAY_DATES["wed"], datetime.time(7, 30), tzinfo=SHANGHAI)

    digests_dispatch_due(now=wednesday)
    deliveries_send_batch(weekly.pk, now=wednesday + datetime.timedelta(days=7))

    row = Delivery.objects.get(digest=weekly, subscriber=switcher)
    assert (row.status, row.last_error) == ("cancelled", "the reader's frequency no longer takes this edition")
    assert Delivery.objects.get(digest=weekly, subscriber=unchanged).status == "sent"
    assert Delivery.objects.filter(digest=weekly, status="sent").count() == len(week_of_readers) - 1


# --- Both snapshot paths write the same ledger -----------------------------------------------


@pytest.fixture
def mixed_audience(seed_digest):
    """Readers of every frequency, weekday and zone, with categories in, partly in and out of the issue."""
    rng = random.Random(16)
    digest_categories = list(Category.objects.filter(items__digest=seed_digest).distinct())
    elsewhere = Category.objects.create(name="冷门话题", position=99)
    zones = ("", "Asia/Shanghai", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo")
    for n in range(400):
        reader = Subscriber.objects.create(
            email=f"r{n}@example.org",
            status="active" if n % 13 else rng.choice(["pending", "unsubscribed", "bounced"]),
            timezone=zones[n % len(zones)],
            frequency=rng.choice(["daily", "weekly", "both"]),
            weekly_day=rng.choice(WEEKDAYS),
        )
        if n % 7 == 1:
            reader.categories.add(elsewhere)
        elif n % 3:
            reader.categories.add(*rng.sample(digest_categories, rng.randint(1, len(digest_categories))), elsewhere)
    return seed_digest


def _rows(digest: Digest) -> dict:
    return {
        d.subscriber_id: (d.variant, d.status, d.last_error, d.not_before, d.message_id, d.attempts, d.claim_token)
        for d in Delivery.objects.filter(digest=digest)
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based snapshot is PostgreSQL's")
@pytest.mark.parametrize("edition", ["daily", "weekly"])
def test_the_set_based_and_the_chunked_snapshot_write_the_same_rows(mixed_audience, edition, settings, monkeypatch):
    settings.DIGEST_LOCAL_TIME_DELIVERY = True
    digest = mixed_audience if edition == "daily" else weekly_of(mixed_audience)
    digest.scheduled_at = default_send_time(digest)
    release = release_function(digest, now=SEND_STARTS, immediate=False)

    report = ledger.deliveries_snapshot(digest, release=release)
    in_database = _rows(digest)
    Delivery.objects.filter(digest=digest).delete()
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the portable path, on the same data
    portable = ledger.deliveries_snapshot(digest, release=release, chunk_size=37)
    monkeypatch.undo()

    assert _rows(digest) == in_database
    assert (report.pending, report.skipped) == (portable.pending, portable.skipped)
    assert report.skipped > 0 and report.pending > 0
    readers = Subscriber.objects.filter(status="active", frequency__in=[edition, "both"])
    assert set(in_database) == set(readers.values_list("pk", flat=True))
    if edition == "weekly":
        # Seven weekdays in four zones (the site's is Shanghai): one release per (zone, weekday).
        assert len({row[3] for row in in_database.values()}) == 28


# --- The autopilot ---------------------------------------------------------------------------


def test_the_autopilot_schedules_a_weekly_edition_for_the_weekly_send_time_and_a_daily_for_its_morning(weekly, seed_digest):
    from digests.delivery.autopilot import digest_autopilot

    assert digest_autopilot(weekly, mode="on").scheduled_at == SEND_STARTS
    assert digest_autopilot(seed_digest, mode="on").scheduled_at == datetime.datetime(2026, 2, 6, 7, 30, tzinfo=SHANGHAI)
    assert {d.status for d in Digest.objects.all()} == {"scheduled"}
