"""The sending page's rate and ETA: the last minute's sends, read from a bounded sample of the newest."""

import datetime

import pytest
from django.utils import timezone

from digests.delivery import progress
from digests.delivery.progress import digest_progress
from digests.models import Delivery, Digest, Subscriber

pytestmark = pytest.mark.django_db
D = Delivery.Status


def ledger(digest, *, sent_seconds_ago: list[float], pending: int, now):
    # Written in one statement: a reader walked through the life cycle each cost 7 ms, 22 s for 3,010.
    readers = Subscriber.objects.bulk_create(
        Subscriber(email=f"r{i}@example.org", status=Subscriber.Status.ACTIVE, confirmed_at=now)
        for i in range(len(sent_seconds_ago) + pending)
    )
    rows = [
        Delivery(
            digest=digest,
            subscriber=reader,
            variant="1",
            not_before=now,
            status=D.SENT,
            sent_at=now - datetime.timedelta(seconds=ago),
        )
        for reader, ago in zip(readers, sent_seconds_ago, strict=False)
    ]
    rows += [Delivery(digest=digest, subscriber=r, variant="1", not_before=now) for r in readers[len(rows) :]]
    Delivery.objects.bulk_create(rows)


def test_the_rate_is_the_last_minutes_sends_and_the_eta_follows(seed_digest):
    now = timezone.now()
    Digest.objects.filter(pk=seed_digest.pk).update(status=Digest.Status.SENDING)
    # 30 sent within the minute, 6 sent before it, 60 to go.
    ledger(seed_digest, sent_seconds_ago=[i for i in range(30)] + [90 + i for i in range(6)], pending=60, now=now)

    shown = digest_progress(seed_digest, now=now)

    assert shown.rate_per_second == 0.5
    assert shown.eta_seconds == 120
    assert shown.sent == 36 and shown.pending == 60


def test_a_fast_send_is_measured_over_the_span_of_the_newest_sample(seed_digest, monkeypatch):
    now = timezone.now()
    monkeypatch.setattr(progress, "RATE_SAMPLE_ROWS", 10)
    # 40 sends in the last 20 seconds (2 a second): the newest 10 span the last 4.5 seconds.
    ledger(seed_digest, sent_seconds_ago=[i / 2 for i in range(40)], pending=20, now=now)

    shown = digest_progress(seed_digest, now=now)

    assert shown.rate_per_second == pytest.approx(10 / 4.5, abs=0.1)
    assert shown.eta_seconds == int(20 / (10 / 4.5))


def test_reading_the_rate_leaves_the_callers_planner_settings_as_they_were(seed_digest):
    # The rate's statement turns bitmap scans off for itself (stale statistics mid-send would
    # have the planner read the whole minute); the page's other queries, in the same
    # transaction, must not inherit that.
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the planner setting is PostgreSQL's")
    now = timezone.now()
    ledger(seed_digest, sent_seconds_ago=[i / 100 for i in range(3000)], pending=10, now=now)
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_bitmapscan")
        before = cursor.fetchone()[0]
        assert digest_progress(seed_digest, now=now).rate_per_second == 50  # 3,000 in the last minute
        cursor.execute("SHOW enable_bitmapscan")
        assert cursor.fetchone()[0] == before == "on"
