"""A send recovers from a dead worker or a lost database connection within seconds, not the lease.

Exactly-once still holds: what a worker journalled is what the sweeper applies,
and a worker that only lost its connection records its own outcomes (with
their reasons) once it is back.
"""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from digests.delivery import batch
from digests.delivery.batch import deliveries_send_batch
from digests.delivery.ledger import deliveries_sweep_stuck
from digests.delivery.schedule import digest_start
from digests.models import Delivery, DeliveryEvent, Subscriber
from tests.helpers.services import needs_services

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def readers(seed_digest):
    return [Subscriber.objects.create(email=f"reader{i}@example.org", status="active") for i in range(6)]


class WorkerDied(BaseException):
    """Stands for SIGKILL inside the process: no except clause of the batch sees it, nothing cleans up."""


def test_a_worker_that_dies_before_its_first_call_has_its_claim_back_within_seconds(
    seed_digest, readers, smtp_bulk, https_site, monkeypatch, settings
):
    settings.DELIVERY_LEASE_SECONDS = 600

    def die(*args, **kwargs):
        raise WorkerDied

    monkeypatch.setattr(batch, "_outgoing", die)
    digest_start(seed_digest, immediate=True, allow_stale=True)
    with pytest.raises(WorkerDied):
        deliveries_send_batch(seed_digest.pk)
    assert Delivery.objects.filter(status="sending").count() == len(readers)

    deliveries_sweep_stuck()
    assert Delivery.objects.filter(status="sending").count() == len(readers), "settled while it could still be working"

    soon = timezone.now() + datetime.timedelta(seconds=batch.PREPARE_SECONDS + 1)
    report = deliveries_sweep_stuck(now=soon)
    assert report.requeued == len(readers) and report.ambiguous == 0
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
    assert not DeliveryEvent.objects.filter(event_type="ambiguous").exists()
    assert smtp_bulk.count() == 0


def test_a_batch_whose_database_connection_is_terminated_records_its_own_outcomes(seed_digest, readers, smtp_bulk, https_site):
    """pg_terminate_backend while the batch talks to the SMTP server: the batch reconnects and records
    every outcome itself, the refusal's reason included, and nothing is left to the sweeper."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    smtp_bulk.refuse = {"reader4@example.org": "550 5.1.1 No such user"}
    received = smtp_bulk.handle_DATA

    async def terminate_on_the_third(server, session, envelope):
        reply = await received(server, session, envelope)
        if smtp_bulk.count() == 3:
            thread = threading.Thread(target=_terminate, args=(backend,))
            thread.start()
            thread.join()
        return reply

    smtp_bulk.handle_DATA = terminate_on_the_third
    digest_start(seed_digest, immediate=True, allow_stale=True)

    report = deliveries_send_batch(seed_digest.pk)

    assert (report.sent, report.failed) == (5, 1)
    by_address = dict(Delivery.objects.values_list("subscriber__email", "status"))
    assert by_address.pop("reader4@example.org") == "failed"
    assert set(by_address.values()) == {"sent"}
    assert "No such user" in Delivery.objects.get(subscriber__email="reader4@example.org").last_error
    assert sorted(smtp_bulk.by_recipient().values()) == [1] * 5


def _terminate(pid: int) -> None:
    """From another connection (this thread's own), as an operator or a failover would."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone()[0]
    finally:
        connection.close()


def test_a_refusal_journalled_by_a_worker_that_died_is_recorded_with_its_reason(seed_digest, readers):
    from digests.delivery.journal import journal_write
    from digests.delivery.ledger import deliveries_claim
    from digests.delivery.outcomes import Code, Outcome

    digest_start(seed_digest, immediate=True, allow_stale=True)
    claim = deliveries_claim(seed_digest.pk, limit=2)
    refused = Outcome(Code.FAILED, "SMTPRecipientsRefused: 550 5.1.1 No such user")
    journal_write(claim.token, [Outcome(Code.SENT), refused], busy_for=-1, in_flight=False)

    deliveries_sweep_stuck()

    first, second = Delivery.objects.filter(pk__in=claim.ids).order_by("pk")
    assert first.status == "sent"
    assert (second.status, second.last_error) == ("failed", refused.error)
    assert not DeliveryEvent.objects.filter(event_type="ambiguous").exists()


def test_a_sweeper_that_read_an_old_deadline_leaves_a_worker_that_went_on_to_send_alone(seed_digest, readers, monkeypatch):
    """The worker journals a fresh deadline and re-stamps its claim just after the sweeper read the
    expired journal: the sweeper must not put back rows that are about to be handed over."""
    from digests.delivery import ledger
    from digests.delivery.journal import journal_write
    from digests.delivery.ledger import deliveries_claim, deliveries_recheck

    digest_start(seed_digest, immediate=True, allow_stale=True)
    claim = deliveries_claim(seed_digest.pk, limit=10)
    journal_write(claim.token, "", busy_for=-1, in_flight=False)  # a slow preparation overran its deadline
    read = ledger.journal_read

    def the_worker_wakes_up_meanwhile(token):
        journal = read(token)
        journal_write(claim.token, "", busy_for=30, in_flight=False)
        assert len(deliveries_recheck(claim).ids) == len(readers)
        return journal

    monkeypatch.setattr(ledger, "journal_read", the_worker_wakes_up_meanwhile)
    report = deliveries_sweep_stuck()

    assert (report.requeued, report.ambiguous) == (0, 0)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sending"}


def test_a_worker_whose_claim_the_sweeper_settled_first_hands_nothing_over(seed_digest, readers):
    """The other order: the hold lapsed, the sweeper put the rows back, then the worker woke up and re-checked."""
    from digests.delivery.journal import journal_write
    from digests.delivery.ledger import deliveries_claim, deliveries_recheck

    digest_start(seed_digest, immediate=True, allow_stale=True)
    claim = deliveries_claim(seed_digest.pk, limit=10)
    journal_write(claim.token, "", busy_for=-1, in_flight=False)
    assert deliveries_sweep_stuck().requeued == len(readers)

    assert deliveries_recheck(claim).ids == ()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_a_fence_left_behind_by_a_finished_batch_is_removed_and_a_held_claims_is_kept(seed_digest, readers, settings):
    from digests.delivery.journal import journal_write
    from digests.delivery.ledger import deliveries_claim, deliveries_record
    from digests.delivery.outcomes import Code, Outcome
    from digests.models import DeliveryClaim

    digest_start(seed_digest, immediate=True, allow_stale=True)
    finished = deliveries_claim(seed_digest.pk, limit=3)
    deliveries_record(finished, {pk: Outcome(Code.SENT) for pk in finished.ids})  # died before removing its fence
    held = deliveries_claim(seed_digest.pk, limit=3)
    journal_write(held.token, "", busy_for=3 * settings.DELIVERY_LEASE_SECONDS, in_flight=False)

    deliveries_sweep_stuck(now=timezone.now() + datetime.timedelta(seconds=2 * settings.DELIVERY_LEASE_SECONDS))

    assert list(DeliveryClaim.objects.values_list("token", flat=True)) == [held.token]
    assert set(Delivery.objects.filter(pk__in=held.ids).values_list("status", flat=True)) == {"sending"}


def test_batches_lost_without_a_claim_are_replaced_at_the_second_sweep(seed_digest, readers, eager_celery):
    """A worker killed between two batches leaves no claim to settle, only a heartbeat that says its
    lanes are alive for another minute and a half: two sweeps in a row see due readers and no claim."""
    from django.core.cache import cache

    from digests.delivery.schedule import LANES_KEY, deliveries_recover
    from digests.models import Digest

    eager_celery.conf.task_always_eager = False
    digest_start(seed_digest, immediate=True, allow_stale=True)
    eager_celery.control.purge()  # the batches the start queued are lost with the worker
    eager_celery.conf.task_always_eager = True
    assert cache.get(LANES_KEY.format(digest_id=seed_digest.pk))

    deliveries_recover()
    assert Delivery.objects.filter(status="pending").count() == len(readers)  # one look is not enough
    deliveries_recover()
    assert Digest.objects.get(pk=seed_digest.pk).status == "sent"


def test_a_journal_left_by_a_worker_of_the_previous_release_is_still_settled(seed_digest, readers):
    from django.core.cache import cache

    from digests.delivery.journal import JOURNAL_KEY
    from digests.delivery.ledger import deliveries_claim

    digest_start(seed_digest, immediate=True, allow_stale=True)
    claim = deliveries_claim(seed_digest.pk, limit=3)
    cache.set(JOURNAL_KEY.format(token=claim.token), "0.000|S", timeout=60)

    deliveries_sweep_stuck()

    assert list(Delivery.objects.filter(pk__in=claim.ids).order_by("pk").values_list("status", flat=True)) == [
        "sent",
        "pending",
        "pending",
    ]
    assert DeliveryEvent.objects.filter(event_type="ambiguous").count() == 1
