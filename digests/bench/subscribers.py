"""Measure the subscriber CSV import against a floor measured in the same run.

On PostgreSQL the floor is the database's own share of the work: the readers
just imported, with their categories and consent records, copied into new
rows by one statement inside the database (no client, no parsing, no checks),
committed. What the import spends beyond it is parsing, validation and the
trip from Python. Elsewhere the floor is the readers bulk-inserted by Django.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection, transaction

from digests.models import Category, Consent, Subscriber
from digests.readers.csv_io import subscribers_import

BENCH_DOMAIN = "bench-import.invalid"


@dataclass(frozen=True)
class ImportBench:
    rows: int
    seconds: float
    floor_seconds: float
    floor: str

    def __str__(self) -> str:
        rate, floor = self.rows / self.seconds, self.rows / self.floor_seconds
        return (
            f"import_subscribers --confirmed: {self.rows} rows in {self.seconds:.1f}s: {rate:.0f} rows/s\n"
            f"floor ({self.floor}): {self.floor_seconds:.1f}s: {floor:.0f} rows/s\n"
            f"ratio to the floor: {rate / floor:.2f}"
        )


def bench_csv(rows: int) -> bytes:
    """A CSV of ``rows`` readers with names, categories, zones, languages and frequencies, as a newsroom would export it."""
    slugs = list(Category.objects.values_list("slug", flat=True)) or [""]
    lines = ["email,name,categories,timezone,language,frequency,weekly_day"]
    for n in range(rows):
        chosen = "|".join(slugs[(n + k) % len(slugs)] for k in range(1 + n % 3)) if slugs[0] else ""
        zone = ("Asia/Shanghai", "Asia/Tokyo", "")[n % 3]
        how_often = ("daily,", "weekly,sun", "both,Mon", "weekly,周三")[n % 4]
        lines.append(f"reader{n}@{BENCH_DOMAIN},读者 {n},{chosen},{zone},{'en' if n % 4 == 0 else 'zh-hans'},{how_often}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def bench_cleanup() -> None:
    Subscriber.objects.filter(email__endswith="@" + BENCH_DOMAIN).delete()


def import_bench(rows: int) -> ImportBench:
    """Import ``rows`` readers as the command does, then time the floor; leaves nothing behind."""
    if not Category.objects.exists():
        Category.objects.create(name="政策与监管", position=1)
    data = bench_csv(rows)
    bench_cleanup()
    try:
        started = time.perf_counter()
        report = subscribers_import(data, confirmed=True)
        seconds = time.perf_counter() - started
        if len(report.created) != rows:
            raise RuntimeError(f"expected {rows} readers imported, got {len(report.created)}: {report.errors[:3]}")
        floor, floor_seconds = _floor(rows)
    finally:
        bench_cleanup()
    return ImportBench(rows=rows, seconds=seconds, floor_seconds=floor_seconds, floor=floor)


def _floor(rows: int) -> tuple[str, float]:
    if connection.vendor != "postgresql":
        bench_cleanup()
        started = time.perf_counter()
        with transaction.atomic():
            Subscriber.objects.bulk_create(
                [Subscriber(email=f"reader{n}@{BENCH_DOMAIN}", name=f"读者 {n}", status="active") for n in range(rows)],
                batch_size=2000,
            )
        return "the same readers bulk-inserted by Django, no parsing, no checks", time.perf_counter() - started
    with connection.cursor() as cursor:
        # Untimed: the tables as autovacuum would know them a minute later. Without statistics the
        # planner took the 100,000 imported readers for a handful and joined them to the copies in a
        # nested loop over a spilled CTE: the floor then ran for more than ten minutes.
        tables = (Subscriber._meta.db_table, Subscriber.categories.through._meta.db_table, Consent._meta.db_table)
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(table) for table in tables))
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_copy_sql(), [f"%@{BENCH_DOMAIN}"])
    seconds = time.perf_counter() - started
    copied = Subscriber.objects.filter(email__startswith="floor-", email__endswith="@" + BENCH_DOMAIN).count()
    if copied != rows:
        raise RuntimeError(f"the floor copied {copied} readers, not {rows}")
    return "the database copying the same readers, categories and consents into new rows, committed", seconds


def _copy_sql() -> str:
    """One statement: every imported reader again under a new address, with their categories and consent records."""
    quote = connection.ops.quote_name
    meta = Subscriber._meta
    through = meta.get_field("categories")
    consent = Consent._meta
    new_value = {"key": "gen_random_uuid()", "email": f"'floor-' || src.{quote('email')}"}
    columns = [f.column for f in meta.concrete_fields if not f.primary_key]
    values = [new_value.get(column, f"src.{quote(column)}") for column in columns]
    consent_columns = [f.column for f in consent.concrete_fields if not f.primary_key and f.name != "subscriber"]
    return f"""
        WITH src AS (
            SELECT * FROM {quote(meta.db_table)} WHERE {quote("email")} LIKE %s
        ), made AS (
            INSERT INTO {quote(meta.db_table)} ({", ".join(quote(c) for c in columns)})
            SELECT {", ".join(values)} FROM src ORDER BY src.{quote(meta.pk.column)}
            RETURNING {quote(meta.pk.column)} AS id, {quote("email")} AS email
        ), pairs AS (
            SELECT made.id AS new_id, src.{quote(meta.pk.column)} AS old_id FROM made JOIN src ON made.email = 'floor-' || src.{quote("email")}
        ), chosen AS (
            INSERT INTO {quote(through.m2m_db_table())} ({quote(through.m2m_column_name())}, {quote(through.m2m_reverse_name())})
            SELECT pairs.new_id, t.{quote(through.m2m_reverse_name())} FROM pairs
            JOIN {quote(through.m2m_db_table())} t ON t.{quote(through.m2m_column_name())} = pairs.old_id
        )
        INSERT INTO {quote(consent.db_table)} ({quote("subscriber_id")}, {", ".join(quote(c) for c in consent_columns)})
        SELECT pairs.new_id, {", ".join(f"c.{quote(c)}" for c in consent_columns)} FROM pairs
        JOIN {quote(consent.db_table)} c ON c.{quote("subscriber_id")} = pairs.old_id
    """
