"""Measure the audience snapshot alone: N synthetic readers, the snapshot, its floor, and a re-run that adds nobody."""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from digests.management.commands.bench_send import Command as SendBench


class Command(BaseCommand):
    help = (
        "Benchmark the audience snapshot of a send on PostgreSQL: N readers over V variants in a throwaway "
        "database, the snapshot committed, its floor, and a second snapshot that must add nobody."
    )

    def add_arguments(self, parser):
        parser.add_argument("--readers", type=int, default=100_000)
        parser.add_argument("--variants", type=int, default=8)
        parser.add_argument("--keep", action="store_true", help="Keep the throwaway database.")

    def handle(self, *args, readers: int, variants: int, keep: bool, **options):
        import redis
        from django.utils import timezone

        from digests.bench.snapshot import snapshot_floor, snapshot_timed
        from digests.delivery.ledger import deliveries_snapshot
        from digests.delivery.schedule import release_function
        from digests.models import Delivery, Digest

        db = settings.DATABASES["default"]
        if "postgresql" not in db["ENGINE"]:
            raise CommandError("bench_snapshot needs PostgreSQL: set DATABASE_URL=postgres://…")
        bench = SendBench(stdout=self.stdout, stderr=self.stderr)
        name = f"{db['NAME']}_snapshot_{os.getpid()}"
        original = db["NAME"]
        bench._admin_sql(f'CREATE DATABASE "{name}"')
        try:
            bench._use(name)
            call_command("migrate", verbosity=0)
            started = time.perf_counter()
            digest_id = bench._populate(readers, variants)
            populated = time.perf_counter() - started
            timing = snapshot_timed(digest_id)
            if settings.CELERY_BROKER_URL.startswith("redis"):
                # No worker here: drop the batches the start queued, as bench_send does before its run.
                redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("bulk")
            digest = Digest.objects.get(pk=digest_id)
            started = time.perf_counter()
            again = deliveries_snapshot(digest, release=release_function(digest, now=timezone.now(), immediate=True))
            rerun = time.perf_counter() - started
            rows = Delivery.objects.filter(digest_id=digest_id).count()
            timing = snapshot_floor(timing, digest_id)
        finally:
            bench._use(original)
            if not keep:
                bench._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.stdout.write(
            f"{readers:,} readers over {variants} variants generated in {populated:.1f}s (not part of any figure)\n"
            f"{timing}\n"
            f"re-run of the snapshot: {again.pending + again.skipped} rows added in {rerun:.2f}s; "
            f"ledger rows: {rows:,} for {readers:,} readers"
        )
