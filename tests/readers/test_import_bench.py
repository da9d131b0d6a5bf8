"""bench_import measures the real import next to its floor and leaves no reader behind."""

import pytest
from django.core.management import call_command

from digests.bench.subscribers import BENCH_DOMAIN
from digests.models import Consent, Subscriber

pytestmark = pytest.mark.django_db


def test_the_bench_imports_every_row_reports_a_ratio_and_cleans_up(capsys, categories):
    call_command("bench_import", rows=300)
    out = capsys.readouterr().out
    assert "300 rows in" in out and "ratio to the floor:" in out
    assert "floor (the database copying the same readers, categories and consents" in out
    assert not Subscriber.objects.filter(email__endswith=BENCH_DOMAIN).exists()
    assert not Consent.objects.exists()


def test_a_category_listed_twice_in_a_row_is_one_choice(categories):
    from digests.readers import csv_io

    slug = categories[0].slug
    report = csv_io.subscribers_import(f"email,categories\ntwice@example.org,{slug}|{slug}\n".encode(), confirmed=True)
    assert [note.email for note in report.created] == ["twice@example.org"] and not report.skipped
    assert list(Subscriber.objects.get(email="twice@example.org").categories.all()) == [categories[0]]


def test_the_floor_is_planned_with_statistics_of_the_rows_just_imported(categories):
    # Without them the planner took 100,000 imported readers for a handful, joined them to their
    # copies in a nested loop over a spilled CTE, and the floor ran for more than ten minutes.
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL floor")
    from digests.bench.subscribers import import_bench

    import_bench(200)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [["digests_subscriber", "digests_subscriber_categories", "digests_consent"]],
        )
        analysed = dict(cursor.fetchall())
    assert analysed == {"digests_subscriber": True, "digests_subscriber_categories": True, "digests_consent": True}
