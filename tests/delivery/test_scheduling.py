"""When digests start and when each reader is due: dispatcher, local mornings, stale guard."""

import datetime
import threading
import zoneinfo

import pytest
from django.db import connection

from digests.content.services import TransitionError
from digests.delivery.schedule import (
    StaleDigest,
    default_send_time,
    digest_schedule,
    digest_start,
    digests_dispatch_due,
)
from digests.models import Delivery, Digest, Subscriber

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ISSUE_MORNING = datetime.datetime(2026, 2, 6, 7, 30, tzinfo=SHANGHAI)


@pytest.fixture
def readers(db):
    return {
        tz or "site": Subscriber.objects.create(
            email=f"{tz or 'site'}@example.org".replace("/", "."), status="active", timezone=tz
        )
        for tz in ("", "Asia/Tokyo", "Europe/Berlin", "America/New_York")
    }


def _not_before(digest):
    return {
        d.subscriber.timezone or "site": d.not_before for d in Delivery.objects.filter(digest=digest).select_related("subscriber")
    }


@pytest.mark.django_db
def test_the_default_send_time_is_the_issue_date_at_half_past_seven_site_time(seed_digest):
    assert default_send_time(seed_digest) == ISSUE_MORNING
    assert digest_schedule(seed_digest).scheduled_at == ISSUE_MORNING


@pytest.mark.django_db
def test_the_dispatcher_starts_a_digest_once_however_often_it_runs(seed_digest, readers):
    digest_schedule(seed_digest)
    after = ISSUE_MORNING + datetime.timedelta(hours=13)
    reports = [digests_dispatch_due(now=after) for _ in range(3)]
    assert [r.started for r in reports] == [[seed_digest.pk], [], []]
    assert Delivery.objects.filter(digest=seed_digest).count() == len(readers)
    with pytest.raises(TransitionError):
        digest_start(Digest.objects.get(pk=seed_digest.pk), now=after)


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_the_same_minute_start_one_send(seed_digest, readers):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    digest_schedule(seed_digest)
    now = ISSUE_MORNING + datetime.timedelta(hours=13)
    barrier = threading.Barrier(2)
    results = []

    def beat():
        from django.db import connection as own

        try:
            barrier.wait()
            results.append(digests_dispatch_due(now=now).started)
        finally:
            own.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [[], [seed_digest.pk]]
    assert Delivery.objects.filter(digest=seed_digest).count() == len(readers)


@pytest.mark.django_db
def test_each_reader_is_due_at_half_past_seven_in_their_own_time_zone(seed_digest, readers, settings):
    settings.DIGEST_LOCAL_TIME_DELIVERY = True
    digest_schedule(seed_digest)
    tokyo_morning = datetime.datetime(2026, 2, 6, 7, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert digests_dispatch_due(now=tokyo_morning - datetime.timedelta(minutes=1)).started == []
    assert digests_dispatch_due(now=tokyo_morning).started == [seed_digest.pk]
    due = _not_before(seed_digest)
    assert due["Asia/Tokyo"] == tokyo_morning
    assert due["site"] == ISSUE_MORNING
    assert due["Europe/Berlin"] == datetime.datetime(2026, 2, 6, 7, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    assert due["America/New_York"] == datetime.datetime(2026, 2, 6, 7, 30, tzinfo=zoneinfo.ZoneInfo("America/New_York"))


@pytest.mark.django_db
def test_only_readers_whose_morning_has_come_are_sent(seed_digest, readers, settings):
    from digests.delivery.batch import deliveries_send_batch

    settings.DIGEST_LOCAL_TIME_DELIVERY = True
    digest_schedule(seed_digest)
    berlin_morning = datetime.datetime(2026, 2, 6, 7, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    digests_dispatch_due(now=berlin_morning)
    report = deliveries_send_batch(seed_digest.pk, now=berlin_morning)
    assert report.sent == 3
    assert set(Delivery.objects.filter(digest=seed_digest, status="pending").values_list("subscriber__timezone", flat=True)) == {
        "America/New_York"
    }


@pytest.mark.django_db
def test_without_local_time_everyone_is_due_at_the_scheduled_instant(seed_digest, readers, settings):
    settings.DIGEST_LOCAL_TIME_DELIVERY = False
    digest_schedule(seed_digest)
    assert digests_dispatch_due(now=ISSUE_MORNING - datetime.timedelta(minutes=1)).started == []
    digests_dispatch_due(now=ISSUE_MORNING)
    assert set(_not_before(seed_digest).values()) == {ISSUE_MORNING}


@pytest.mark.django_db
def test_send_now_makes_every_reader_due_at_once(seed_digest, readers):
    now = ISSUE_MORNING - datetime.timedelta(hours=2)
    digest_start(seed_digest, now=now, immediate=True)
    assert set(_not_before(seed_digest).values()) == {now}


@pytest.mark.django_db
def test_a_stale_issue_is_not_started_unless_the_editor_allows_it(seed_digest, readers, settings):
    settings.DIGEST_STALE_AFTER_DAYS = 2
    digest_schedule(seed_digest)
    three_days_later = ISSUE_MORNING + datetime.timedelta(days=3)
    report = digests_dispatch_due(now=three_days_later)
    assert report.started == [] and report.stale == [seed_digest.pk]
    assert Digest.objects.get(pk=seed_digest.pk).status == "scheduled"
    with pytest.raises(StaleDigest):
        digest_start(Digest.objects.get(pk=seed_digest.pk), now=three_days_later, immediate=True)

    digest_schedule(Digest.objects.get(pk=seed_digest.pk), allow_stale=True)
    assert digests_dispatch_due(now=three_days_later).started == [seed_digest.pk]


@pytest.mark.django_db
def test_the_audience_snapshot_skips_readers_with_nothing_to_read_and_ignores_inactive_ones(seed_digest, readers):
    from digests.models import Category

    empty = Category.objects.create(name="冷门话题", position=99)
    off_topic = Subscriber.objects.create(email="off@example.org", status="active")
    off_topic.categories.add(empty)
    Subscriber.objects.create(email="gone@example.org", status="unsubscribed")
    Subscriber.objects.create(email="new@example.org", status="pending")
    report = digest_start(seed_digest, now=ISSUE_MORNING, immediate=True)
    assert (report.pending, report.skipped) == (len(readers), 1)
    assert Delivery.objects.get(subscriber=off_topic).status == "skipped"
    assert not Delivery.objects.filter(subscriber__email__in=["gone@example.org", "new@example.org"]).exists()
