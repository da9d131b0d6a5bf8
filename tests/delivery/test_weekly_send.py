"""Spec: a weekly edition goes out through a real worker and SMTP server day by day, each reader on their weekday.

The readers whose weekday has come get their copy at once; the others wait,
pending, while the digest stays ``sending``; once their day comes they get it
and the digest is sent. Daily-only readers never get the weekly.
"""

import datetime

import pytest
from django.utils import timezone

from digests.delivery.schedule import digest_schedule, digest_start, digests_dispatch_due, site_zone
from digests.models import Delivery, Digest, Item, Subscriber
from digests.models.readers import WEEKDAYS
from tests.helpers.services import needs_services, wait_for

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]


def _status(digest):
    return Digest.objects.values_list("status", flat=True).get(pk=digest.pk)


def test_a_weekly_send_delivers_the_due_weekdays_now_and_the_rest_on_their_day(seed_digest, smtp_server, worker, settings):
    settings.DIGEST_LOCAL_TIME_DELIVERY = False
    now = timezone.now()
    today = now.astimezone(site_zone()).date()
    # The send started at midnight yesterday: yesterday's and today's readers are due, later days' are not.
    started = datetime.datetime.combine(today - datetime.timedelta(days=1), datetime.time(0, 0), tzinfo=site_zone())
    weekly = Digest.objects.create(
        edition=Digest.Edition.WEEKLY,
        issue_date=started.astimezone(site_zone()).date() - datetime.timedelta(days=1),
        period_start=started.astimezone(site_zone()).date() - datetime.timedelta(days=7),
        title="AI 行业动态 周刊",
    )
    for item in Item.objects.filter(digest=seed_digest):
        item.pk, item.digest = None, weekly
        item.save()

    def day(offset: int) -> str:
        return WEEKDAYS[(today + datetime.timedelta(days=offset)).weekday()]

    due = {f"due{n}@example.org": day(offset) for n, offset in enumerate((-1, -1, 0, 0, 0))}
    later = {f"later{n}@example.org": day(offset) for n, offset in enumerate((1, 2, 3, 4, 5))}
    for email, weekday in {**due, **later}.items():
        Subscriber.objects.create(email=email, status="active", frequency="weekly", weekly_day=weekday)
    Subscriber.objects.create(email="both@example.org", status="active", frequency="both", weekly_day=day(0))
    Subscriber.objects.create(email="daily@example.org", status="active", frequency="daily", weekly_day=day(0))

    worker().start()
    digest_schedule(weekly, at=started)
    report = digest_start(Digest.objects.get(pk=weekly.pk), now=now)

    assert report.pending == len(due) + len(later) + 1
    received = {*due, "both@example.org"}
    assert wait_for(lambda: set(smtp_server.by_recipient()) == received, timeout=60, interval=0.3)
    pending = Delivery.objects.filter(digest=weekly, status="pending")
    assert set(pending.values_list("subscriber__email", flat=True)) == set(later)
    digests_dispatch_due()
    assert _status(weekly) == "sending"

    # The week goes by: each remaining reader's day comes.
    pending.update(not_before=timezone.now())
    assert wait_for(lambda: _status(weekly) == "sent", timeout=60, interval=0.5, tick=digests_dispatch_due)
    assert smtp_server.by_recipient() == {address: 1 for address in {*received, *later}}
    subjects = {str(message["Subject"]) for _, message, _ in smtp_server.parsed()}
    assert len(subjects) == 1
