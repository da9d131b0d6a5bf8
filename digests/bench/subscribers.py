"""Measure the subscriber CSV import against a floor: the same rows bulk-inserted with no checks at all."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import transaction

from digests.models import Category, Subscriber
from digests.readers.csv_io import subscribers_import

BENCH_DOMAIN = "bench-import.invalid"


@dataclass(frozen=True)
class ImportBench:
    rows: int
    seconds: float
    floor_seconds: float

    def __str__(self) -> str:
        rate, floor = self.rows / self.seconds, self.rows / self.floor_seconds
        return (
            f"import_subscribers --confirmed: {self.rows} rows in {self.seconds:.1f}s: {rate:.0f} rows/s\n"
            f"floor (the same rows bulk-inserted, no parsing, no checks): {self.floor_seconds:.1f}s: {floor:.0f} rows/s\n"
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
        bench_cleanup()
        started = time.perf_counter()
        with transaction.atomic():
            Subscriber.objects.bulk_create(
                [Subscriber(email=f"reader{n}@{BENCH_DOMAIN}", name=f"读者 {n}", status="active") for n in range(rows)],
                batch_size=2000,
            )
        floor_seconds = time.perf_counter() - started
    finally:
        bench_cleanup()
    return ImportBench(rows=rows, seconds=seconds, floor_seconds=floor_seconds)
