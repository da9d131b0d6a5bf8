"""Time the audience snapshot of a send on its own, and the floor it is held to.

The snapshot is ``digest_start``: the transition to ``sending`` and one
set-based INSERT … SELECT of the whole audience into the ledger, committed
(whatever the ledger checks at the commit is in the time). Its floor writes
the very same rows, already computed, into the same ledger (same indexes,
constraints and triggers: the counters, the checks that the readers and
digest exist) under a throwaway digest, and rolls back: what is left between
the two is the cost of working out who gets which variant, when, and with
which Message-ID. A bare floor (the same rows into an unindexed temporary
table) shows what the ledger's indexes and checks cost on their own.
"""

from __future__ import annotations

import datetime
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction

from digests.bench.probes import proc_stat
from digests.delivery.schedule import digest_start
from digests.models import Delivery, Digest

_COLUMNS = (
    "subscriber_id, variant, not_before, status, attempts, last_error, claim_token, message_id, "
    "provider_message_id, created_at, updated_at"
)


@dataclass(frozen=True)
class SnapshotTiming:
    rows: int
    pending: int
    skipped: int
    seconds: float
    floor_seconds: float | None = None
    bare_seconds: float | None = None
    # CPU seconds of this process plus its database backend's (None when the database is not on this machine).
    cpu_seconds: float | None = None
    floor_cpu_seconds: float | None = None

    def __str__(self) -> str:
        per_100k = self.seconds * 100_000 / max(self.rows, 1)
        text = (
            f"snapshot: {self.seconds:.2f}s for {self.rows:,} readers ({self.rows / self.seconds:,.0f} rows/s, "
            f"{per_100k:.2f}s per 100,000): {self.pending:,} to send, {self.skipped:,} skipped"
        )
        if self.cpu_seconds is not None:
            text += f"\nsnapshot CPU (this process + its database backend): {self.cpu_seconds:.2f}s"
        if self.floor_seconds:
            text += (
                f"\nsnapshot floor (the same rows, precomputed, into the same ledger, committed checks): "
                f"{self.floor_seconds:.2f}s; ratio {self.floor_seconds / self.seconds:.2f}"
            )
            if self.floor_cpu_seconds is not None and self.cpu_seconds:
                text += f"; CPU {self.floor_cpu_seconds:.2f}s, ratio {self.floor_cpu_seconds / self.cpu_seconds:.2f}"
        if self.bare_seconds:
            text += f"\nbare floor (the same rows into an unindexed temporary table): {self.bare_seconds:.2f}s"
        return text


def snapshot_timed(digest_id: int) -> SnapshotTiming:
    """Start sending ``digest_id`` now (every reader due at once) and time the transition + snapshot + commit."""
    digest = Digest.objects.get(pk=digest_id)
    with _cpu() as cpu:
        started = time.perf_counter()
        report = digest_start(digest, immediate=True, allow_stale=True)
        seconds = time.perf_counter() - started
    return SnapshotTiming(
        rows=report.pending + report.skipped,
        pending=report.pending,
        skipped=report.skipped,
        seconds=seconds,
        cpu_seconds=cpu.get("seconds"),
    )


@contextmanager
def _cpu():
    """CPU seconds spent inside the block by this process and its database backend: on a shared
    machine they vary far less than the wall time. Left out when the backend's /proc is not readable."""
    spent: dict[str, float] = {}
    if connection.vendor != "postgresql":
        yield spent
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        before = time.process_time() + _backend_cpu(backend)
    except OSError:
        yield spent
        return
    yield spent
    spent["seconds"] = time.process_time() + _backend_cpu(backend) - before


def _backend_cpu(pid: int) -> float:
    return proc_stat(pid)[2] / os.sysconf("SC_CLK_TCK")


class _Rollback(Exception):
    pass


def snapshot_floor(timing: SnapshotTiming, digest_id: int) -> SnapshotTiming:
    """``timing`` with its floors: ``digest_id``'s ledger rows copied as they are, timed, then rolled back."""
    delivery = connection.ops.quote_name(Delivery._meta.db_table)
    floor = bare = None
    spent: dict[str, float] = {}
    try:
        with transaction.atomic():
            source = Digest.objects.get(pk=digest_id)
            copy = Digest.objects.create(
                title=f"{source.title} (snapshot floor)",
                issue_date=source.issue_date - datetime.timedelta(days=3650),
            )
            with _cpu() as spent, connection.cursor() as cursor:
                started = time.perf_counter()
                cursor.execute(
                    f"INSERT INTO {delivery} (digest_id, {_COLUMNS}) "
                    f"SELECT %s, subscriber_id, variant, not_before, 'pending', 0, '', '', message_id, '', created_at, "
                    f"updated_at FROM {delivery} WHERE digest_id = %s ORDER BY id",
                    [copy.pk, digest_id],
                )
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                floor = time.perf_counter() - started
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE TEMPORARY TABLE bench_snapshot_bare (digest_id bigint, {_bare_columns()})")
                started = time.perf_counter()
                cursor.execute(
                    f"INSERT INTO bench_snapshot_bare SELECT %s, {_COLUMNS} FROM {delivery} WHERE digest_id = %s ORDER BY id",
                    [copy.pk, digest_id],
                )
                bare = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        pass
    return SnapshotTiming(
        **{**timing.__dict__, "floor_seconds": floor, "bare_seconds": bare, "floor_cpu_seconds": spent.get("seconds")}
    )


def _bare_columns() -> str:
    return (
        "subscriber_id bigint, variant text, not_before timestamptz, status text, attempts integer, "
        "last_error text, claim_token text, message_id text, provider_message_id text, "
        "created_at timestamptz, updated_at timestamptz"
    )
