"""A batch task sends batches back to back: the next batch is claimed and made while one is on the wire.

Each batch keeps its own claim and journal. A batch claimed but not yet handed over is
never ambiguous: paused or cancelled meanwhile, it is given back unsent; interrupted, it
goes back at the sweeper's next tick while the batch on the wire is recorded.
"""

import datetime
import gc
import os
import threading

import pytest
from django.db import connections as db_connections
from django.utils import timezone

from digests.delivery import batch, transport
from digests.delivery.batch import deliveries_send_batches
from digests.delivery.ledger import deliveries_claim, deliveries_counts, deliveries_sweep_stuck, deliveries_unclaim_unless_sending
from digests.delivery.schedule import digest_cancel, digest_pause, digest_start
from digests.models import Delivery, DeliveryEvent, Digest, Subscriber
from tests.helpers.services import needs_services, wait_for

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def readers(seed_digest):
    return [Subscriber.objects.create(email=f"reader{i}@example.org", status="active") for i in range(10)]


@pytest.fixture
def small_batches(settings):
    settings.DELIVERY_BATCH_SIZE = 2
    settings.DELIVERY_SMTP_CONNECTIONS = 2  # a batch is 4 readers


def test_back_to_back_batches_send_every_reader_once(seed_digest, readers, smtp_bulk, https_site, small_batches):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batches(seed_digest.pk)
    assert report.claimed == 2, "the last batch took the two readers left"
    assert sorted(smtp_bulk.by_recipient().values()) == [1] * len(readers)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_batch_claimed_before_a_pause_is_given_back_unsent(seed_digest, readers):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    claim = deliveries_claim(seed_digest.pk, limit=4)
    digest_pause(Digest.objects.get(pk=seed_digest.pk))
    assert deliveries_unclaim_unless_sending(seed_digest.pk, claim) is False
    rows = Delivery.objects.filter(pk__in=claim.ids)
    assert set(rows.values_list("status", "claim_token", "attempts")) == {("pending", "", 0)}


def test_a_batch_claimed_before_a_cancel_is_cancelled_with_its_digest(seed_digest, readers):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    claim = deliveries_claim(seed_digest.pk, limit=4)
    digest_cancel(Digest.objects.get(pk=seed_digest.pk))
    assert deliveries_unclaim_unless_sending(seed_digest.pk, claim) is False
    assert set(Delivery.objects.values_list("status", flat=True)) == {"cancelled"}


def test_a_batch_still_sending_is_handed_over(seed_digest, readers):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    claim = deliveries_claim(seed_digest.pk, limit=4)
    assert deliveries_unclaim_unless_sending(seed_digest.pk, claim) is True
    assert Delivery.objects.filter(pk__in=claim.ids, status="sending").count() == 4


class Interrupted(Exception):
    """Stands for Celery's soft time limit, which arrives in the batch's thread."""


def test_interrupted_with_the_next_batch_claimed_records_the_one_on_the_wire_and_gives_back_the_next(
    seed_digest, readers, smtp_bulk, https_site, small_batches, monkeypatch
):
    smtp_bulk.stall_after = 2  # the first batch's other two messages are never answered
    waiting = batch._Sending.wait

    def interrupted_while_waiting_for_the_wire(self, *, stop=False, renew=None):
        if stop:
            return waiting(self, stop=True)
        # The next batch is claimed and made; the soft time limit arrives while both connections wait.
        wait_for(lambda: len(smtp_bulk.stalled) >= 2, timeout=10, interval=0.01)
        waiting(self, stop=True)
        raise Interrupted

    monkeypatch.setattr(batch._Sending, "wait", interrupted_while_waiting_for_the_wire)
    digest_start(seed_digest, immediate=True, allow_stale=True)
    with pytest.raises(Interrupted):
        deliveries_send_batches(seed_digest.pk)

    # The first batch is recorded by its own worker: two sent, the two that timed out wait again
    # (as do the two readers no batch claimed); the second was claimed and made, never handed over.
    counts = deliveries_counts(seed_digest.pk)
    assert (counts["sent"], counts["pending"], counts["sending"]) == (2, 4, 4)
    given_back = set(Delivery.objects.filter(status="sending").values_list("subscriber__email", flat=True))
    assert not given_back & set(smtp_bulk.by_recipient())
    # It goes back at the sweeper's next tick, none of it ambiguous.
    report = deliveries_sweep_stuck(now=timezone.now() + datetime.timedelta(seconds=1))
    assert (report.requeued, report.ambiguous) == (4, 0)
    assert not DeliveryEvent.objects.filter(event_type="ambiguous").exists()


@pytest.fixture
def claims(monkeypatch):
    """The size each claim of the batch loop asked for, and how many it got, in order."""
    asked = []
    claim = batch.deliveries_claim

    def recorded(digest_id, *, limit, **kwargs):
        got = claim(digest_id, limit=limit, **kwargs)
        asked.append((limit, len(got.ids)))
        return got

    monkeypatch.setattr(batch, "deliveries_claim", recorded)
    return asked


def test_over_a_fast_relay_batches_grow_to_five_times_their_size(
    seed_digest, smtp_bulk, https_site, small_batches, claims, settings
):
    settings.DELIVERY_BATCH_SECONDS = 10  # far more than 20 readers take here
    readers = [Subscriber.objects.create(email=f"many{i}@example.org", status="active") for i in range(60)]
    digest_start(seed_digest, immediate=True, allow_stale=True)
    deliveries_send_batches(seed_digest.pk)

    # The first two go before any batch has come back from the wire; each later one is sized to the last's pace.
    assert claims[:3] == [(4, 4), (4, 4), (20, 20)]
    assert {limit for limit, _ in claims[2:]} == {20}
    assert sum(got for _, got in claims) == len(readers)
    assert sorted(smtp_bulk.by_recipient().values()) == [1] * len(readers)


def test_over_a_slow_relay_batches_keep_their_size(seed_digest, readers, smtp_bulk, https_site, small_batches, claims, settings):
    smtp_bulk.reply_delay = 0.1  # two messages a connection: a batch of 4 takes 0.2 s at least
    settings.DELIVERY_BATCH_SECONDS = 0.1
    digest_start(seed_digest, immediate=True, allow_stale=True)
    deliveries_send_batches(seed_digest.pk)

    assert claims == [(4, 4), (4, 4), (4, 2)]
    assert sorted(smtp_bulk.by_recipient().values()) == [1] * len(readers)


def test_a_relay_that_refuses_every_reader_sets_no_pace(
    seed_digest, readers, smtp_bulk, https_site, small_batches, claims, settings
):
    settings.DELIVERY_BATCH_SECONDS = 10
    smtp_bulk.refuse = {reader.email: "550 5.1.1 No such user" for reader in readers}
    digest_start(seed_digest, immediate=True, allow_stale=True)
    deliveries_send_batches(seed_digest.pk)

    assert claims == [(4, 4), (4, 4), (4, 2)]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}


def test_batches_stay_at_their_size_when_told_to_or_under_a_rate_limit_or_through_an_api(settings, smtp_bulk):
    from digests.delivery.batch import batch_grows

    assert batch_grows()
    settings.DELIVERY_BATCH_SECONDS = 0
    assert not batch_grows()
    settings.DELIVERY_BATCH_SECONDS = 1
    settings.DELIVERY_RATE_PER_SECOND = 50  # the rate limit sizes batches to end well within their lease
    assert not batch_grows()
    settings.DELIVERY_RATE_PER_SECOND = 0
    settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "bulk": {"backend": "anymail.backends.mailgun.EmailBackend"}}
    assert not batch_grows()  # a provider's API takes so many recipients a call


def test_a_grown_batch_is_sized_to_the_pace_of_the_last_one(settings):
    from digests.delivery.batch import batch_grown

    settings.DELIVERY_BATCH_SECONDS = 1.0
    assert batch_grown(800, sent=800, seconds=0.2) == 4000  # 4,000 a second: five times, the most it grows
    assert batch_grown(800, sent=800, seconds=0.5) == 1600
    assert batch_grown(800, sent=800, seconds=2.0) == 800  # never smaller than its usual size
    assert batch_grown(800, sent=0, seconds=0.01) == 800  # a relay that accepted nothing, however fast it refused


def _lanes_observed(monkeypatch, look) -> list:
    """What ``look()`` returns in each SMTP lane's own thread, as the lane starts."""
    seen = []
    lane = transport._smtp_lane

    def observed(*args, **kwargs):
        seen.append(look())
        return lane(*args, **kwargs)

    monkeypatch.setattr(transport, "_smtp_lane", observed)
    return seen


@pytest.fixture
def lane_policies(monkeypatch):
    """The scheduling policy of each SMTP lane's thread, as the lane starts."""
    return _lanes_observed(monkeypatch, lambda: os.sched_getscheduler(0))  # 0: the calling thread


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux's scheduling policies")
def test_a_send_runs_its_connections_under_sched_batch_and_gives_the_thread_back_its_policy(
    seed_digest, readers, smtp_bulk, https_site, small_batches, lane_policies
):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    deliveries_send_batches(seed_digest.pk)

    assert lane_policies and set(lane_policies) == {os.SCHED_BATCH}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    assert sorted(smtp_bulk.by_recipient().values()) == [1] * len(readers)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's scheduling policies")
def test_a_worker_its_operator_made_idle_stays_idle(seed_digest, readers, smtp_bulk, https_site, small_batches, lane_policies):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    result = {}

    def idle_worker():  # a thread of its own: an idle thread cannot make itself normal again unprivileged
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        deliveries_send_batches(seed_digest.pk)
        result["after"] = os.sched_getscheduler(0)
        db_connections.close_all()

    thread = threading.Thread(target=idle_worker)
    thread.start()
    thread.join()

    assert lane_policies and set(lane_policies) == {os.SCHED_IDLE}
    assert result["after"] == os.SCHED_IDLE


@pytest.fixture
def lane_collector(monkeypatch):
    """Python's collector as each SMTP lane starts: how many objects are frozen out of it, and its thresholds."""
    return _lanes_observed(monkeypatch, lambda: (gc.get_freeze_count(), gc.get_threshold()))


def test_a_send_keeps_the_collector_off_what_the_worker_held_before_and_gives_it_back(
    seed_digest, readers, smtp_bulk, https_site, small_batches, lane_collector
):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    assert gc.get_freeze_count() == 0
    threshold = gc.get_threshold()
    deliveries_send_batches(seed_digest.pk)

    # While sending, everything that existed before the send was frozen and the young generation was bigger.
    assert lane_collector and all(frozen > 10_000 for frozen, _ in lane_collector)
    assert {during[0] for _, during in lane_collector} == {batch.GC_YOUNG_THRESHOLD}
    assert {during[1:] for _, during in lane_collector} == {threshold[1:]}
    # Afterwards the worker's objects are collectable again, at the thresholds it had.
    assert (gc.get_freeze_count(), gc.get_threshold()) == (0, threshold)
    assert sorted(smtp_bulk.by_recipient().values()) == [1] * len(readers)


def test_a_freeze_the_operator_made_and_a_collector_turned_off_stay_as_they_were(
    seed_digest, readers, smtp_bulk, https_site, small_batches, lane_collector
):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    threshold = gc.get_threshold()
    gc.freeze()  # as a worker_process_init hook might, at boot
    gc.set_threshold(0)
    try:
        deliveries_send_batches(seed_digest.pk)
        assert {during for _, during in lane_collector} == {(0, *threshold[1:])}
        # Still frozen (a frozen object freed meanwhile leaves the count, so it can only have shrunk).
        assert gc.get_freeze_count() > 10_000 and gc.get_threshold()[0] == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert sorted(smtp_bulk.by_recipient().values()) == [1] * len(readers)
