"""The sending page's counts stay exact however the ledger changes, without counting the ledger."""

import datetime

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from digests.delivery.ledger import (
    deliveries_cancel,
    deliveries_claim,
    deliveries_counts,
    deliveries_record,
    deliveries_snapshot,
    deliveries_sweep_stuck,
)
from digests.delivery.outcomes import Code, Outcome
from digests.models import Delivery, DeliveryCount, Digest, Subscriber

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the counters are kept by PostgreSQL triggers"),
]


def _truth(digest_id: int) -> dict[str, int]:
    counts = {status: 0 for status in Delivery.Status.values}
    for row in Delivery.objects.filter(digest_id=digest_id).values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
    return counts


@pytest.fixture
def sending(seed_digest):
    for n in range(120):
        Subscriber.objects.create(email=f"c{n}@example.org", status="active")
    now = timezone.now()
    deliveries_snapshot(seed_digest, release=lambda tz: now)
    Digest.objects.filter(pk=seed_digest.pk).update(status=Digest.Status.SENDING)
    return seed_digest


def test_counts_follow_the_snapshot_claims_outcomes_sweeps_and_cancel(sending, settings):
    digest_id = sending.pk
    assert deliveries_counts(digest_id) == _truth(digest_id) and deliveries_counts(digest_id)["pending"] == 120

    claim = deliveries_claim(digest_id, limit=50)
    assert deliveries_counts(digest_id) == _truth(digest_id) and deliveries_counts(digest_id)["sending"] == 50

    outcomes = {pk: Outcome(Code.SENT) for pk in claim.ids[:30]}
    outcomes |= {pk: Outcome(Code.FAILED, "550 no such user") for pk in claim.ids[30:40]}
    outcomes |= {pk: Outcome(Code.RETRY, "450 try later") for pk in claim.ids[40:]}
    deliveries_record(claim, outcomes)
    assert deliveries_counts(digest_id) == _truth(digest_id)

    stranded = deliveries_claim(digest_id, limit=20)
    Delivery.objects.filter(pk__in=stranded.ids).update(claimed_at=timezone.now() - datetime.timedelta(days=1))
    deliveries_sweep_stuck(now=timezone.now() + datetime.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS * 2))
    assert deliveries_counts(digest_id) == _truth(digest_id)

    deliveries_cancel(digest_id)
    assert deliveries_counts(digest_id) == _truth(digest_id) and deliveries_counts(digest_id)["pending"] == 0


def test_a_deleted_digest_leaves_no_counters(sending):
    digest_id = sending.pk
    sending.delete()
    assert not DeliveryCount.objects.filter(digest_id=digest_id).exists()
    assert deliveries_counts(digest_id) == {status: 0 for status in Delivery.Status.values}


def test_a_leaving_reader_moves_their_pending_delivery_out_of_the_count(sending):
    from digests.readers.status import subscriber_transition

    reader = Subscriber.objects.filter(deliveries__digest=sending).first()
    subscriber_transition(reader, to=Subscriber.Status.UNSUBSCRIBED)
    assert deliveries_counts(sending.pk) == _truth(sending.pk)
    assert deliveries_counts(sending.pk)["pending"] == 119
