"""The one seam between the stages and Celery: hand a task to the broker by its name.

Stages never import ``digests.tasks`` (which imports the stages); they name
the task here instead. The task names are written once, below, and
``digests.tasks`` registers each task under exactly that name.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction

SEND_CONFIRMATION = "digests.tasks.send_transactional_confirmation"
SEND_WELCOME = "digests.tasks.send_transactional_welcome"
SEND_DIGEST_TEST = "digests.tasks.send_transactional_digest_test"
SEND_DATA_EXPORT = "digests.tasks.send_transactional_data_export"
SEND_BATCH = "digests.tasks.deliveries_send_batch"
PROCESS_DELIVERY_EVENT = "digests.tasks.process_delivery_event"
DISPATCH_DUE = "digests.tasks.dispatch_due_digests"
SWEEP_STUCK = "digests.tasks.sweep_stuck_deliveries"
IMPORT_SUBSCRIBERS = "digests.tasks.import_subscribers_file"
WEBHOOK_DELIVER = "digests.tasks.webhook_deliver"
WEBHOOKS_RETRY_DUE = "digests.tasks.webhooks_retry_due"


def enqueue(name: str, *args, countdown: float | None = None, on_commit: bool = True) -> None:
    """Queue task ``name`` with ``args`` (ids, never model instances).

    By default the task is queued only once the current transaction commits,
    so the worker never reads a row that does not exist yet; outside a
    transaction that is at once. ``on_commit=False`` queues now and lets a
    broker error reach the caller.
    """
    if on_commit:
        transaction.on_commit(lambda: _send(name, args, countdown))
    else:
        _send(name, args, countdown)


def _send(name: str, args: tuple, countdown: float | None) -> None:
    # Through the registered task (not send_task) so eager mode and routing apply as for .delay().
    current_app.tasks[name].apply_async(args, countdown=countdown)
