"""A batch task sends batches back to back: the next batch is claimed and made while one is on the wire.

Each batch keeps its own claim and journal. A batch claimed but not yet handed over is
never ambiguous: paused or cancelled meanwhile, it is given back unsent; interrupted, it
goes back at the sweeper's next tick while the batch on the wire is recorded.
"""

import datetime

import pytest
from django.utils import timezone

from digests.delivery import batch
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
