"""A reader who leaves after their batch claimed them, but before the hand-over, is not sent.

The race is real: the batch claims (and commits) its rows, then the reader
unsubscribes, bounces or complains in another database connection, and only
then does the batch reach the SMTP server.
"""

import threading

import pytest
from django.db import connection

from digests.delivery import batch
from digests.delivery.batch import deliveries_send_batch
from digests.delivery.schedule import digest_start
from digests.models import Delivery, Subscriber
from digests.readers.status import subscriber_transition
from tests.helpers.services import needs_services

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def readers(seed_digest):
    return [Subscriber.objects.create(email=f"reader{i}@example.org", status="active") for i in range(4)]


def _leaves_right_after_the_claim(monkeypatch, reader, to, reason=""):
    """Make ``reader`` move to ``to`` in a concurrent transaction once the batch's claim has committed."""
    claim = batch.deliveries_claim

    def claim_then_leave(*args, **kwargs):
        claimed = claim(*args, **kwargs)

        def leave():
            try:
                subscriber_transition(Subscriber.objects.get(pk=reader.pk), to=to, reason=reason)
            finally:
                connection.close()

        thread = threading.Thread(target=leave)
        thread.start()
        thread.join()
        return claimed

    monkeypatch.setattr(batch, "deliveries_claim", claim_then_leave)


@pytest.mark.parametrize(
    ("to", "reason", "withdrawn"),
    [
        ("unsubscribed", "", "cancelled"),
        ("bounced", "hard bounce: 550 5.1.1 user unknown", "suppressed"),
        ("complained", "spam complaint", "suppressed"),
    ],
)
def test_a_reader_who_leaves_after_the_claim_is_not_sent(
    seed_digest, readers, smtp_bulk, https_site, monkeypatch, to, reason, withdrawn
):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    _leaves_right_after_the_claim(monkeypatch, readers[1], to, reason)

    report = deliveries_send_batch(seed_digest.pk)

    assert report.claimed == 4
    assert sorted(smtp_bulk.by_recipient()) == ["reader0@example.org", "reader2@example.org", "reader3@example.org"]
    left = Delivery.objects.get(subscriber=readers[1])
    # The same end as a reader who left before the claim (subscriber_transition's withdrawal).
    assert left.status == withdrawn
    assert left.last_error == (reason or f"subscriber {to}")
    assert left.sent_at is None
    assert set(Delivery.objects.exclude(pk=left.pk).values_list("status", flat=True)) == {"sent"}
    assert report.sent == 3


def test_the_withdrawn_reader_does_not_keep_the_send_open(seed_digest, readers, smtp_bulk, https_site, monkeypatch):
    from digests.delivery.schedule import batch_continue
    from digests.models import Digest

    digest_start(seed_digest, immediate=True, allow_stale=True)
    _leaves_right_after_the_claim(monkeypatch, readers[0], "unsubscribed")
    batch_continue(seed_digest.pk, deliveries_send_batch(seed_digest.pk))
    assert Digest.objects.get(pk=seed_digest.pk).status == "sent"


def test_a_dead_workers_claim_with_a_withdrawn_reader_is_settled_from_its_journal(seed_digest, readers):
    """The journal counts only the deliveries handed to the transport, so a withdrawn one must not shift it."""
    from digests.delivery.journal import journal_write
    from digests.delivery.ledger import deliveries_claim, deliveries_recheck, deliveries_sweep_stuck

    digest_start(seed_digest, immediate=True, allow_stale=True)
    claim = deliveries_claim(seed_digest.pk, limit=10)
    subscriber_transition(readers[1], to="unsubscribed")
    held = deliveries_recheck(claim)
    assert len(held.ids) == 3
    # The worker sent the first held delivery and died while handing over the second.
    journal_write(claim.token, "S", busy_for=-1)

    deliveries_sweep_stuck()

    status = dict(Delivery.objects.values_list("subscriber__email", "status"))
    assert status == {
        "reader0@example.org": "sent",
        "reader1@example.org": "cancelled",
        "reader2@example.org": "pending",  # ambiguous: re-sent with the same Message-ID
        "reader3@example.org": "pending",  # never attempted
    }
    assert Delivery.objects.get(subscriber=readers[2]).last_error.startswith("ambiguous")
