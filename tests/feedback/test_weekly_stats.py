"""Spec: a weekly edition's statistics are reported like a daily's: on its admin page, in `digest_stats`
(named weekly:<END_DATE>), and with unsubscribes counted until the next weekly, not the next daily."""

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from digests.content.weekly import weekly_build
from digests.feedback.statistics import digest_stats
from digests.models import Delivery, DeliveryEvent, Digest, Subscriber
from tests.helpers.deliveries import make_delivery
from tests.helpers.readers import make_reader

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def sent_weekly(seed_digest):
    Digest.objects.filter(pk=seed_digest.pk).update(status=Digest.Status.SENT, send_started_at=timezone.now())
    weekly = weekly_build(datetime.date(2026, 2, 8))
    Digest.objects.filter(pk=weekly.pk).update(status=Digest.Status.SENT, send_started_at=timezone.now())
    readers = [make_reader(f"w{i}@example.com", life_cycle=False) for i in range(4)]
    deliveries = [make_delivery(weekly, reader) for reader in readers[:3]]
    make_delivery(weekly, readers[3], status=Delivery.Status.FAILED)
    item = weekly.items.first()
    DeliveryEvent.objects.create(
        delivery=deliveries[0],
        subscriber=readers[0],
        provider="first-party",
        event_type="clicked",
        item=item,
        url=item.source_url,
        occurred_at=timezone.now(),
    )
    return {"weekly": Digest.objects.get(pk=weekly.pk), "readers": readers, "item": item}


def test_digest_stats_reports_a_weekly_named_by_its_last_day(sent_weekly):
    out = StringIO()
    call_command("digest_stats", "weekly:2026-02-08", stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0] == "AI 行业动态 Weekly (2026-02-02 – 2026-02-08)  [Weekly · Sent]"
    lines = {line.split("  ")[0].strip(): line.split() for line in text.splitlines() if "  " in line}
    assert lines["Audience"][-1] == "4" and lines["Sent"][-2:] == ["3", "75.00%"]
    assert sent_weekly["item"].title[:10] in text
    # A date alone is the daily of that date, as before.
    daily = StringIO()
    call_command("digest_stats", "2026-02-06", stdout=daily)
    assert daily.getvalue().splitlines()[0].endswith("[Daily · Sent]")
    with pytest.raises(CommandError, match="A weekly edition ending on 2026-02-15 does not exist"):
        call_command("digest_stats", "weekly:2026-02-15")


def test_the_admin_lists_and_reports_the_weekly_like_a_daily(admin_client, sent_weekly):
    weekly = sent_weekly["weekly"]
    changelist = admin_client.get("/admin/digests/digest/").content.decode()
    assert f"/admin/digests/digest/{weekly.pk}/stats/" in changelist

    page = admin_client.get(f"/admin/digests/digest/{weekly.pk}/stats/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "AI 行业动态 Weekly (2026-02-02 – 2026-02-08)" in text and "<svg" in text


def test_a_weeklys_unsubscribes_count_until_the_next_weekly_not_the_next_daily(sent_weekly):
    now = timezone.now()
    Digest.objects.create(
        issue_date=datetime.date(2026, 2, 9), title="AI 行业动态", status=Digest.Status.SENT, send_started_at=now
    )
    reader = sent_weekly["readers"][1]
    Subscriber.objects.filter(pk=reader.pk).update(
        status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=now + datetime.timedelta(minutes=5)
    )

    assert digest_stats(sent_weekly["weekly"]).unsubscribed == 1
