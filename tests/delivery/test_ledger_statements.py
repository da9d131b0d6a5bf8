"""A batch's bookkeeping costs as few statements as its outcomes allow, and still touches only what its claim holds.

The re-check before the hand-over and the record after it ran on every batch
of every send with a pass that locked and read each row before updating it: an
eighth of the database's time per batch. Now the record's UPDATE names the claim
itself, and the re-check writes one row for the whole claim (its fence) and reads
the rest: its count says whether anything else needs reading.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digests.delivery.ledger import deliveries_claim, deliveries_recheck, deliveries_record
from digests.delivery.outcomes import Code, Outcome
from digests.delivery.schedule import digest_start
from digests.models import Delivery, DeliveryClaim, Subscriber
from digests.readers.status import subscriber_transition
from tests.helpers.services import needs_services

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def claim(seed_digest):
    for i in range(5):
        Subscriber.objects.create(email=f"reader{i}@example.org", status="active")
    digest_start(seed_digest, immediate=True, allow_stale=True)
    return deliveries_claim(seed_digest.pk, limit=5)


def _statements(queries) -> list[str]:
    return [
        q["sql"].split()[0].upper()
        for q in queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
    ]


def _locking_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if "FOR UPDATE" in q["sql"].upper()]


def _row_versions(ids) -> dict[int, str]:
    """Each ledger row's current version (PostgreSQL's xmin): any write to a row gives it a new one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text FROM digests_delivery WHERE id = ANY(%s)", [list(ids)])
        return dict(cursor.fetchall())


def _fence(claim):
    return DeliveryClaim.objects.filter(token=claim.token).values_list("stamped_at", flat=True).first()


def test_a_recheck_where_every_reader_stayed_writes_one_row_for_the_whole_claim(claim):
    """The re-check used to re-stamp every claimed row (a third of the database's writes per message);
    now it re-stamps the claim's fence and only reads the rows."""
    versions, stamp = _row_versions(claim.ids), _fence(claim)

    with CaptureQueriesContext(connection) as queries:
        held = deliveries_recheck(claim)

    assert held.ids == claim.ids
    assert _statements(queries) == ["UPDATE", "SELECT"]
    (update,) = [q["sql"] for q in queries if q["sql"].upper().startswith("UPDATE")]
    assert DeliveryClaim._meta.db_table in update
    assert not _locking_reads(queries)
    assert _row_versions(claim.ids) == versions
    assert _fence(claim) > stamp


def test_a_recheck_where_a_reader_left_still_withdraws_them_and_restamps_the_fence(claim):
    leaver = Delivery.objects.get(pk=claim.ids[0]).subscriber
    subscriber_transition(leaver, to="unsubscribed")
    stamp = _fence(claim)

    held = deliveries_recheck(claim)

    assert held.ids == claim.ids[1:]
    assert Delivery.objects.get(pk=claim.ids[0]).status == "cancelled"
    assert set(Delivery.objects.filter(pk__in=held.ids).values_list("status", flat=True)) == {"sending"}
    assert _fence(claim) > stamp


def test_a_claim_of_the_previous_release_without_a_fence_is_still_rechecked_by_restamping_its_rows(claim):
    DeliveryClaim.objects.filter(token=claim.token).delete()
    leaver = Delivery.objects.get(pk=claim.ids[0]).subscriber
    subscriber_transition(leaver, to="unsubscribed")
    before = dict(Delivery.objects.filter(pk__in=claim.ids).values_list("pk", "claimed_at"))

    held = deliveries_recheck(claim)

    assert held.ids == claim.ids[1:]
    assert Delivery.objects.get(pk=claim.ids[0]).status == "cancelled"
    after = dict(Delivery.objects.filter(pk__in=held.ids).values_list("pk", "claimed_at"))
    assert all(after[pk] != before[pk] for pk in held.ids)


def test_a_claim_has_a_fence_until_its_outcomes_are_recorded(claim):
    assert _fence(claim) is not None

    deliveries_record(claim, {pk: Outcome(Code.SENT) for pk in claim.ids}, release=True)

    assert not DeliveryClaim.objects.exists()


def test_recording_an_all_sent_batch_is_one_update(claim):
    with CaptureQueriesContext(connection) as queries:
        report = deliveries_record(claim, {pk: Outcome(Code.SENT) for pk in claim.ids})

    assert report.sent == len(claim.ids)
    assert _statements(queries) == ["UPDATE"]
    assert not _locking_reads(queries)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(Code.SENT),
        Outcome(Code.SENT, provider_message_id="<one-per-reader@provider>"),
        Outcome(Code.FAILED, "550 no such user"),
        Outcome(Code.RETRY, "451 try later"),
    ],
    ids=["sent", "sent-with-own-provider-id", "failed", "retry"],
)
def test_a_record_touches_no_row_its_claim_no_longer_holds(claim, outcome):
    taken = claim.ids[0]
    # Settled meanwhile (by the sweeper, say): back to pending, the claim gone.
    Delivery.objects.filter(pk=taken).update(status="pending", claim_token="")
    outcomes = {
        pk: Outcome(outcome.code, outcome.error, f"{outcome.provider_message_id}{pk}" if outcome.provider_message_id else "")
        for pk in claim.ids
    }

    report = deliveries_record(claim, outcomes)

    assert report.sent + report.failed + report.retried == len(claim.ids) - 1
    row = Delivery.objects.get(pk=taken)
    assert (row.status, row.claim_token, row.sent_at, row.provider_message_id) == ("pending", "", None, "")


def test_a_claim_reads_what_the_messages_need_in_its_own_query(seed_digest):
    for i in range(3):
        Subscriber.objects.create(email=f"reader{i}@example.org", status="active", language="en" if i else "zh-hans")
    digest_start(seed_digest, immediate=True, allow_stale=True)

    with CaptureQueriesContext(connection) as queries:
        claim = deliveries_claim(seed_digest.pk, limit=3, fields=("message_id", "subscriber__email", "subscriber__language"))

    assert [q for q in _statements(queries) if q == "SELECT"] == ["SELECT", "SELECT"]  # the digest's status, the rows
    expected = Delivery.objects.order_by("pk").values_list("pk", "message_id", "subscriber__email", "subscriber__language")
    assert claim.rows == tuple(expected)
    assert claim.ids == tuple(row[0] for row in expected)


def test_rows_named_by_id_are_found_whatever_their_number(claim):
    ids = list(claim.ids)

    assert set(Delivery.objects.filter(pk__any=ids + [10**12]).values_list("pk", flat=True)) == set(ids)
    assert set(Delivery.objects.filter(pk__any=ids[:1]).values_list("pk", flat=True)) == {ids[0]}
    assert list(Delivery.objects.filter(pk__any=[])) == []
