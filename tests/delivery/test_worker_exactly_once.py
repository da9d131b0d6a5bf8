"""Exactly once through a real Celery worker and a real SMTP server, even when things go wrong."""

import time

import pytest
from django.conf import settings

from digests.delivery.ledger import deliveries_counts, deliveries_sweep_stuck
from digests.delivery.schedule import digest_pause, digest_resume, digest_start, digests_dispatch_due
from digests.models import Category, Delivery, DeliveryEvent, Digest, Item
from tests.helpers.readers import make_readers
from tests.helpers.services import needs_services, wait_for

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def audience(seed_digest):
    Category.objects.create(name="冷门话题", position=99)  # chosen by some readers, empty today
    digest_categories = set(Item.objects.filter(digest=seed_digest).values_list("category_id", flat=True))
    return lambda n: make_readers(n, categories=list(Category.objects.all()), digest_categories=digest_categories)


def _status(digest):
    return Digest.objects.values_list("status", flat=True).get(pk=digest.pk)


def _assert_each_eligible_reader_got_one_copy(inbox, eligible, *, tolerated_duplicates=()):
    counts = inbox.by_recipient()
    assert set(counts) == eligible, "a reader is missing or an ineligible reader got mail"
    doubled = {address for address, n in counts.items() if n > 1}
    assert doubled <= set(tolerated_duplicates)
    if doubled:
        # The only copies sent twice are ambiguous ones, re-sent with the same Message-ID.
        ids = inbox.message_ids()
        assert all(len(ids[address]) == 1 for address in doubled)


def test_every_eligible_reader_gets_exactly_one_email(seed_digest, audience, smtp_server, worker):
    from digests.tasks import deliveries_send_batch

    eligible = audience(2500)
    worker().start()
    report = digest_start(seed_digest, immediate=True, allow_stale=True)
    # The same batch task delivered many more times must not send anything twice.
    for _ in range(6):
        deliveries_send_batch.delay(seed_digest.pk)
    assert report.pending == len(eligible)
    assert wait_for(lambda: _status(seed_digest) == "sent", timeout=90, interval=0.5)
    _assert_each_eligible_reader_got_one_copy(smtp_server, eligible)
    counts = deliveries_counts(seed_digest.pk)
    assert counts["sent"] == len(eligible)
    assert counts["skipped"] == Delivery.objects.filter(digest=seed_digest, status="skipped").count() > 0
    assert counts["pending"] == counts["sending"] == 0


def test_a_worker_killed_mid_send_loses_and_doubles_nobody(seed_digest, audience, smtp_server, worker):
    eligible = audience(1500)
    first = worker()
    first.start()
    digest_start(seed_digest, immediate=True, allow_stale=True)
    assert wait_for(lambda: smtp_server.count() >= 300, timeout=60, interval=0.05)
    first.kill()
    at_kill = smtp_server.count()
    assert at_kill < len(eligible), "the send finished before the kill; use more readers"
    assert Delivery.objects.filter(digest=seed_digest, status="sending").exists()

    worker().start()

    def beat():
        deliveries_sweep_stuck()
        digests_dispatch_due()

    assert wait_for(lambda: _status(seed_digest) == "sent", timeout=120, interval=1, tick=beat)
    ambiguous = DeliveryEvent.objects.filter(delivery__digest=seed_digest, event_type="ambiguous")
    tolerated = set(ambiguous.values_list("subscriber__email", flat=True))
    # At most the message in flight on each connection of each of the two pool processes.
    assert len(tolerated) <= 2 * settings.DELIVERY_SMTP_CONNECTIONS
    _assert_each_eligible_reader_got_one_copy(smtp_server, eligible, tolerated_duplicates=tolerated)


def test_pause_restart_everything_and_resume_sends_exactly_the_rest(seed_digest, audience, smtp_server, worker):
    eligible = audience(1500)
    first = worker()
    first.start()
    digest_start(seed_digest, immediate=True, allow_stale=True)
    assert wait_for(lambda: smtp_server.count() >= 200, timeout=60, interval=0.05)
    digest_pause(seed_digest)
    first.stop()  # a warm shutdown: batches in flight finish, nothing new starts
    paused_at = smtp_server.count()
    time.sleep(1)
    assert smtp_server.count() == paused_at < len(eligible)
    assert deliveries_counts(seed_digest.pk)["sending"] == 0

    worker().start()
    digests_dispatch_due()  # a paused digest stays paused whatever beat does
    time.sleep(1.5)
    assert smtp_server.count() == paused_at

    digest_resume(Digest.objects.get(pk=seed_digest.pk))
    assert wait_for(lambda: _status(seed_digest) == "sent", timeout=90, interval=0.5, tick=digests_dispatch_due)
    _assert_each_eligible_reader_got_one_copy(smtp_server, eligible)


def test_a_killed_workers_send_completes_within_a_minute_on_the_sweepers_tick_alone(seed_digest, audience, smtp_server, worker):
    """Not after the lease nor when the dead lanes' heartbeat runs out: the sweeper settles the dead
    claims at their journals' deadlines and starts new batches for them."""
    from digests.delivery.schedule import deliveries_recover

    eligible = audience(1500)
    first = worker()
    first.start()
    digest_start(seed_digest, immediate=True, allow_stale=True)
    assert wait_for(lambda: smtp_server.count() >= 300, timeout=60, interval=0.05)
    first.kill()
    killed_at = time.monotonic()
    assert Delivery.objects.filter(digest=seed_digest, status="sending").exists()
    worker().start()

    assert wait_for(lambda: _status(seed_digest) == "sent", timeout=60, interval=1, tick=deliveries_recover)
    assert time.monotonic() - killed_at < 60
    tolerated = set(
        DeliveryEvent.objects.filter(delivery__digest=seed_digest, event_type="ambiguous").values_list(
            "subscriber__email", flat=True
        )
    )
    _assert_each_eligible_reader_got_one_copy(smtp_server, eligible, tolerated_duplicates=tolerated)


def test_two_workers_started_as_if_on_two_machines_share_a_send_exactly_once(seed_digest, audience, smtp_server, worker):
    """Separate ``celery worker`` commands on the same PostgreSQL and Redis: throughput adds up, nobody twice."""
    eligible = audience(2000)
    first, second = worker(), worker()
    first.launch()
    second.launch()
    first.wait_ready()
    second.wait_ready()
    digest_start(seed_digest, immediate=True, allow_stale=True)
    assert wait_for(lambda: _status(seed_digest) == "sent", timeout=120, interval=0.5)
    _assert_each_eligible_reader_got_one_copy(smtp_server, eligible)
    for one in (first, second):
        assert "batch of" in one.log.read_text(), f"{one.hostname} sent no batch"
