"""The audience snapshot: one ledger row per active reader, computed in the database on PostgreSQL."""

import datetime
import random
from unittest import mock

import pytest
from django.db import connection, transaction

from digests.delivery import ledger
from digests.delivery.messages import message_id_for
from digests.models import Category, Delivery, Digest, Item, Subscriber

pytestmark = pytest.mark.django_db
ZONES = ("", "Asia/Tokyo", "Europe/Berlin", "America/New_York", "Asia/Shanghai")


def _release(tz_name: str) -> datetime.datetime:
    # A distinct, recognisable release per zone.
    return datetime.datetime(2026, 2, 6, tzinfo=datetime.UTC) + datetime.timedelta(hours=len(tz_name))


@pytest.fixture
def audience(seed_digest):
    """Readers of every kind: all categories, some, none of the digest's, inactive ones, several zones."""
    rng = random.Random(5)
    digest_categories = list(Category.objects.filter(items__digest=seed_digest).distinct())
    elsewhere = Category.objects.create(name="冷门话题", position=99)
    for n in range(300):
        reader = Subscriber.objects.create(
            email=f"r{n}@example.org",
            status="active" if n % 11 else rng.choice(["pending", "unsubscribed", "bounced"]),
            timezone=ZONES[n % len(ZONES)],
        )
        if n % 7 == 1:
            reader.categories.add(elsewhere)
        elif n % 3:
            reader.categories.add(*rng.sample(digest_categories, rng.randint(1, len(digest_categories))), elsewhere)
    return seed_digest


def _rows(digest: Digest) -> dict:
    return {
        d.subscriber_id: (d.variant, d.status, d.last_error, d.not_before, d.message_id, d.attempts, d.claim_token)
        for d in Delivery.objects.filter(digest=digest)
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based snapshot is PostgreSQL's")
def test_the_database_computes_the_same_rows_as_the_portable_path(audience, settings):
    report = ledger.deliveries_snapshot(audience, release=_release)
    categories = frozenset(Category.objects.filter(items__digest=audience).values_list("pk", flat=True))
    releases = {tz or settings.TIME_ZONE: _release(tz or settings.TIME_ZONE) for tz in ZONES}
    in_database = _rows(audience)
    Delivery.objects.filter(digest=audience).delete()
    portable = ledger._snapshot_in_chunks(audience, categories, releases, chunk_size=37)
    assert _rows(audience) == in_database
    assert (report.pending, report.skipped) == (portable.pending, portable.skipped)
    assert report.skipped > 0 and report.pending > 0


def test_every_active_reader_gets_one_row_with_their_variant_release_and_message_id(audience, settings):
    report = ledger.deliveries_snapshot(audience, release=_release)
    active = Subscriber.objects.filter(status="active")
    rows = {d.subscriber_id: d for d in Delivery.objects.filter(digest=audience)}
    assert set(rows) == set(active.values_list("pk", flat=True))
    assert report.pending + report.skipped == active.count()
    categories = set(Category.objects.filter(items__digest=audience).values_list("pk", flat=True))
    for reader in active.prefetch_related("categories"):
        chosen = {c.pk for c in reader.categories.all()}
        expected = sorted(categories & chosen) if chosen else sorted(categories)
        row = rows[reader.pk]
        assert row.variant == ",".join(map(str, expected))
        assert row.status == ("pending" if expected else "skipped")
        assert row.not_before == _release(reader.timezone or settings.TIME_ZONE)
        assert row.message_id == message_id_for(audience.pk, reader.key)


def test_running_it_again_adds_nobody_twice_and_reports_only_the_new(audience):
    first = ledger.deliveries_snapshot(audience, release=_release)
    latecomer = Subscriber.objects.create(email="late@example.org", status="active")
    again = ledger.deliveries_snapshot(audience, release=_release)
    assert (again.pending, again.skipped) == (1, 0)
    assert Delivery.objects.filter(digest=audience).count() == first.pending + first.skipped + 1
    assert Delivery.objects.filter(digest=audience, subscriber=latecomer).count() == 1


def test_rows_are_grouped_by_release_then_variant_so_batches_share_a_variant(audience):
    ledger.deliveries_snapshot(audience, release=_release)
    order = list(Delivery.objects.filter(digest=audience, status="pending").order_by("pk").values_list("not_before", "variant"))
    assert order == sorted(order)


def _digest_with_categories(seed_digest, count: int) -> list[Category]:
    """``count`` more categories, each with an item in the digest (slug set: no pinyin per category)."""
    more = Category.objects.bulk_create(Category(name=f"栏目{n}", slug=f"section-{n}", position=100 + n) for n in range(count))
    Item.objects.bulk_create(Item(digest=seed_digest, category=c, title=f"消息{c.pk}", summary="摘要") for c in more)
    return sorted(Category.objects.filter(items__digest=seed_digest).distinct(), key=lambda c: c.pk)


@pytest.mark.parametrize("count", [ledger.MASK_CATEGORIES, ledger.MASK_CATEGORIES + 1])
def test_a_digest_with_as_many_categories_as_a_mask_holds_or_more_still_gives_each_reader_their_variant(seed_digest, count):
    categories = _digest_with_categories(
        seed_digest, count - Category.objects.filter(items__digest=seed_digest).distinct().count()
    )
    assert len(categories) == count
    first, last = categories[0], categories[-1]
    picks = {"first": [first], "last": [last], "ends": [first, last], "all": categories, "none": []}
    readers = {}
    for name, chosen in picks.items():
        readers[name] = Subscriber.objects.create(email=f"{name}@example.org", status="active")
        readers[name].categories.add(*chosen)

    ledger.deliveries_snapshot(seed_digest, release=_release)

    variants = dict(Delivery.objects.filter(digest=seed_digest).values_list("subscriber_id", "variant"))
    everything = ",".join(str(c.pk) for c in categories)
    assert variants[readers["first"].pk] == str(first.pk)
    assert variants[readers["last"].pk] == str(last.pk)  # the mask's highest bit
    assert variants[readers["ends"].pk] == f"{first.pk},{last.pk}"
    assert variants[readers["all"].pk] == variants[readers["none"].pk] == everything


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based snapshot is PostgreSQL's")
def test_the_snapshot_leaves_the_planner_settings_of_the_transaction_as_it_found_them(audience):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '5MB'")
        ledger.deliveries_snapshot(audience, release=_release)
        cursor.execute("SELECT current_setting('work_mem'), current_setting('enable_nestloop')")
        assert cursor.fetchone() == ("5MB", "on")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based snapshot is PostgreSQL's")
def test_a_freshly_imported_list_without_statistics_is_joined_in_linear_time(audience):
    # Before ANALYZE the planner takes the readers for a handful of rows and
    # would join the M2M table's aggregate in a nested loop: readers × readers.
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Subscriber._meta.db_table])
        assert cursor.fetchone()[0] < 0  # never analysed: the case this is about
        cursor_class = type(cursor.cursor)
    plans = []
    execute = cursor_class.execute

    def explained(self, sql, params=None, *args, **kwargs):
        if "INSERT INTO" in sql and "inserted AS" in sql:
            execute(self, "EXPLAIN " + sql, params)
            plans.append("\n".join(row[0] for row in self.fetchall()))
        return execute(self, sql, params, *args, **kwargs)

    with mock.patch.object(cursor_class, "execute", explained):
        ledger.deliveries_snapshot(audience, release=_release)
    assert len(plans) == 1 and "Hash" in plans[0] and "Nested Loop" not in plans[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_a_readers_deliveries_and_the_snapshots_conflicts_are_both_answered_by_the_unique_index(audience):
    # The ledger keeps no index on the reader alone: (subscriber, digest) serves a
    # reader's deliveries (privacy export, leaving, erasure) and the snapshot's
    # ON CONFLICT, so each snapshot row costs one index entry less.
    ledger.deliveries_snapshot(audience, release=_release)
    reader = Subscriber.objects.filter(status="active").first()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = Delivery.objects.filter(subscriber=reader, status="pending").explain()
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef NOT LIKE '%%WHERE%%'",
            [Delivery._meta.db_table],
        )
        full_indexes = sorted(row[0].split(" USING btree ")[1] for row in cursor.fetchall())
    assert "delivery_once_per_reader" in plan
    assert full_indexes == ["(digest_id, status, not_before)", "(id)", "(subscriber_id, digest_id)"]


def test_starting_a_send_reads_a_few_rows_per_time_zone_not_one_per_reader(audience, settings):
    # Which zones (and weekdays) the readers are in was a DISTINCT that Django widened with the
    # readers' default ordering: one row per reader came back to Python, a million at a million readers.
    from digests.delivery.schedule import digest_first_release

    settings.DIGEST_LOCAL_TIME_DELIVERY = True
    audience.scheduled_at = datetime.datetime(2026, 2, 6, 7, 30, tzinfo=datetime.UTC)
    returned = []

    def count_rows(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("SELECT"):
            returned.append((context["cursor"].rowcount, sql[:80]))
        return result

    with connection.execute_wrapper(count_rows):
        digest_first_release(audience)
        ledger.deliveries_snapshot(audience, release=_release)
    readers = Subscriber.objects.filter(status="active").count()
    assert readers > 200
    assert max(rows for rows, _ in returned) <= len(ZONES) + Item.objects.filter(digest=audience).count(), returned
