"""Large subscriber files are imported in the background; the admin shows how far they got."""

from __future__ import annotations

from dataclasses import asdict

from django.db.models import Q
from django.utils import timezone, translation

from digests import queue
from digests.models import SubscriberImport
from digests.queue import enqueue
from digests.readers.csv_io import CsvImportError, ImportReport, subscribers_import

# Files up to this size are imported while the admin waits (a few thousand rows, about a second).
BACKGROUND_IMPORT_BYTES = 256 * 1024
S = SubscriberImport.Status


def subscriber_import_queue(*, data: bytes, confirmed: bool, language: str, user=None) -> SubscriberImport:
    """Store the file and queue its import after commit; the row tracks its progress."""
    job = SubscriberImport.objects.create(
        data=data, confirmed=confirmed, language=language, created_by=user, lines=data.count(b"\n") or 1
    )
    enqueue(queue.IMPORT_SUBSCRIBERS, job.pk)
    return job


def subscriber_import_run(import_id: int) -> bool:
    """Run a queued import (again, if a worker died in the middle: importing is idempotent); False if done already."""
    claimed = SubscriberImport.objects.filter(Q(status=S.QUEUED) | Q(status=S.RUNNING), pk=import_id).update(
        status=S.RUNNING, processed=0
    )
    if not claimed:
        return False
    job = SubscriberImport.objects.get(pk=import_id)

    def progress(line: int) -> None:
        SubscriberImport.objects.filter(pk=import_id).update(processed=min(line, job.lines))

    with translation.override(job.language or None):
        try:
            report = subscribers_import(bytes(job.data), confirmed=job.confirmed, progress=progress)
        except CsvImportError as exc:
            outcome = {"status": S.FAILED, "report": {"error": str(exc)}}
        else:
            outcome = {"status": S.DONE, "report": import_report_json(report), "processed": job.lines}
    SubscriberImport.objects.filter(pk=import_id).update(finished_at=timezone.now(), data=b"", **outcome)
    return True


def import_report_json(report: ImportReport) -> dict:
    """What the admin shows of a finished import: counts, and every skipped and failed line."""
    return {
        "created": len(report.created),
        "confirmations": report.confirmations,
        "skipped": [asdict(note) for note in report.skipped],
        "errors": [asdict(note) for note in report.errors],
    }
