"""The ledger never keeps a row for a reader or a digest that is gone, whichever way they go.

The ledger's reader and digest have no foreign-key constraints (checked row by
row they were a third of the snapshot): Django cascades a deletion to the
ledger, and on PostgreSQL statement-level triggers refuse any SQL that would
leave a row naming a missing reader or digest, also when a snapshot and a
deletion run at the same time.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from digests.delivery import ledger
from digests.models import Delivery, Digest, Subscriber
from digests.readers.privacy import subscriber_erase
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the ledger's triggers are PostgreSQL's")
LIST = "/admin/digests/subscriber/"


def _orphans() -> int:
    """Ledger rows whose reader or digest no longer exists (what a foreign key would have refused)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM digests_delivery d"
            " WHERE NOT EXISTS (SELECT FROM digests_subscriber s WHERE s.id = d.subscriber_id)"
            " OR NOT EXISTS (SELECT FROM digests_digest g WHERE g.id = d.digest_id)"
        )
        return cursor.fetchone()[0]


def _snapshot(digest: Digest) -> ledger.SnapshotReport:
    now = timezone.now()
    return ledger.deliveries_snapshot(digest, release=lambda *zone_and_day: now)


@pytest.fixture
def ledger_rows(seed_digest):
    """Three readers with a row each in the digest's ledger."""
    readers = [make_reader(f"r{n}@example.org") for n in range(3)]
    assert _snapshot(seed_digest).pending == 3
    return seed_digest, readers


def _deliveries_of(reader: Subscriber) -> int:
    return Delivery.objects.filter(subscriber_id=reader.pk).count()


def test_erasing_a_reader_takes_their_rows_and_no_one_elses(ledger_rows):
    digest, (erased, *kept) = ledger_rows
    subscriber_erase(erased)
    assert _deliveries_of(erased) == 0
    assert [_deliveries_of(reader) for reader in kept] == [1, 1]
    assert _orphans() == 0


def test_the_admins_erase_action_delete_action_and_delete_page_take_the_readers_rows(admin_client, ledger_rows):
    digest, (erased, deleted, deleted_on_its_page) = ledger_rows
    admin_client.post(LIST, {"action": "erase_selected", "_selected_action": [erased.pk], "post": "yes"})
    admin_client.post(LIST, {"action": "delete_selected", "_selected_action": [deleted.pk], "post": "yes"})
    admin_client.post(f"{LIST}{deleted_on_its_page.pk}/delete/", {"post": "yes"})
    assert not Subscriber.objects.exists()
    assert not Delivery.objects.exists()
    assert _orphans() == 0


def test_deleting_a_cancelled_digest_in_the_admin_takes_its_rows(admin_client, ledger_rows):
    digest, readers = ledger_rows
    ledger.deliveries_cancel(digest.pk)
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.CANCELLED)
    answer = admin_client.post(f"/admin/digests/digest/{digest.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert not Digest.objects.filter(pk=digest.pk).exists()
    assert not Delivery.objects.exists()
    assert Subscriber.objects.count() == 3
    assert _orphans() == 0


def test_deleting_readers_or_digests_through_the_orm_takes_their_rows(ledger_rows):
    digest, (first, *others) = ledger_rows
    Subscriber.objects.filter(pk=first.pk).delete()
    assert Delivery.objects.count() == 2
    Digest.objects.filter(pk=digest.pk).delete()
    assert not Delivery.objects.exists()
    assert _orphans() == 0


@postgresql_only
@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM digests_subscriber WHERE id = %(reader)s",
        "DELETE FROM digests_digest WHERE id = %(digest)s",
        "TRUNCATE digests_subscriber CASCADE",
        "UPDATE digests_delivery SET subscriber_id = %(other)s WHERE subscriber_id = %(reader)s AND digest_id = %(digest)s",
        "INSERT INTO digests_delivery (digest_id, subscriber_id, variant, not_before, status, attempts, last_error,"
        " claim_token, message_id, provider_message_id, created_at, updated_at)"
        " SELECT digest_id, subscriber_id + 1000, variant, not_before, status, attempts, last_error, claim_token,"
        " message_id, provider_message_id, created_at, updated_at FROM digests_delivery",
        "INSERT INTO digests_delivery (digest_id, subscriber_id, variant, not_before, status, attempts, last_error,"
        " claim_token, message_id, provider_message_id, created_at, updated_at)"
        " SELECT digest_id + 1000, subscriber_id, variant, not_before, status, attempts, last_error, claim_token,"
        " message_id, provider_message_id, created_at, updated_at FROM digests_delivery",
    ],
    ids=[
        "delete-reader",
        "delete-digest",
        "truncate-readers",
        "move-a-row",
        "insert-for-missing-reader",
        "insert-for-missing-digest",
    ],
)
def test_sql_that_would_leave_a_row_without_its_reader_or_digest_fails(ledger_rows, sql):
    digest, (reader, other, _) = ledger_rows
    Delivery.objects.filter(subscriber=other).delete()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, {"reader": reader.pk, "digest": digest.pk, "other": other.pk})
    assert Delivery.objects.count() == 2
    assert _orphans() == 0


class _Holding(threading.Thread):
    """Runs ``work`` in a transaction of its own connection, and commits only when ``release`` is set."""

    def __init__(self, work, release: threading.Event | None = None):
        super().__init__(daemon=True)
        self.work, self.release = work, release
        self.done = threading.Event()
        self.error: Exception | None = None

    def run(self):
        from django.db import connection as own

        try:
            with transaction.atomic():
                self.work()
                self.done.set()
                if self.release:
                    self.release.wait(10)
        except Exception as exc:  # handed to the test, which asserts on it
            self.error = exc
        finally:
            self.done.set()
            own.close()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_erasure_during_a_snapshot_waits_for_it_and_then_finds_its_row(seed_digest):
    reader = make_reader("leaving@example.org")
    release = threading.Event()
    snapshot = _Holding(lambda: _snapshot(seed_digest), release)
    snapshot.start()
    assert snapshot.done.wait(10) and snapshot.error is None
    erasure = _Holding(lambda: subscriber_erase(Subscriber.objects.get(pk=reader.pk)))
    erasure.start()
    time.sleep(0.5)
    assert not erasure.done.is_set(), "the erasure waits for the snapshot's commit"
    release.set()
    snapshot.join(10)
    erasure.join(10)
    # As with the foreign key: the erasure that would have left the new row behind fails, and can be retried.
    assert isinstance(erasure.error, IntegrityError)
    assert _orphans() == 0 and _deliveries_of(reader) == 1
    subscriber_erase(Subscriber.objects.get(pk=reader.pk))
    assert _orphans() == 0 and not Delivery.objects.exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_snapshot_during_an_erasure_waits_for_it_and_then_leaves_no_row_behind(seed_digest):
    leaving = make_reader("leaving@example.org")
    staying = make_reader("staying@example.org")
    release = threading.Event()
    erasure = _Holding(lambda: subscriber_erase(Subscriber.objects.get(pk=leaving.pk)), release)
    erasure.start()
    assert erasure.done.wait(10) and erasure.error is None
    snapshot = _Holding(lambda: _snapshot(seed_digest))
    snapshot.start()
    time.sleep(0.5)
    assert not snapshot.done.is_set(), "the snapshot, which still read the leaving reader, waits for the erasure"
    release.set()
    erasure.join(10)
    snapshot.join(10)
    assert isinstance(snapshot.error, IntegrityError)
    assert _orphans() == 0 and not Delivery.objects.exists()
    # Started again, the snapshot takes the readers who are left.
    assert _snapshot(seed_digest).pending == 1
    assert list(Delivery.objects.values_list("subscriber_id", flat=True)) == [staying.pk]
