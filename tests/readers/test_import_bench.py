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
