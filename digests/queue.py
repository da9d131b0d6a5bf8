"""The one seam between the stages and Celery: hand a task to the broker by its name.

Stages never import ``digests.tasks`` (which imports the stages); they name
the task here instead. The task names are written once, below, and
``digests.tasks`` registers each task under exactly that name.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

log = logging.getLogger(__name__)

SEND_CONFIRMATION = "digests.tasks.send_transactional_confirmation"  # before the outbox; still accepted from old queues
SEND_TRANSACTIONAL = "digests.tasks.send_transactional_email"
SEND_OWED_TRANSACTIONAL = "digests.tasks.transactional_emails_send_owed"
SEND_DIGEST_TEST = "digests.tasks.send_transactional_digest_test"
SEND_BATCH = "digests.tasks.deliveries_send_batch"
PROCESS_DELIVERY_EVENT = "digests.tasks.process_delivery_event"
DISPATCH_DUE = "digests.tasks.dispatch_due_digests"
SWEEP_STUCK = "digests.tasks.sweep_stuck_deliveries"
IMPORT_SUBSCRIBERS = "digests.tasks.import_subscribers_file"
WEBHOOK_DELIVER = "digests.tasks.webhook_deliver"
WEBHOOKS_RETRY_DUE = "digests.tasks.webhooks_retry_due"
BUILD_WEEKLY_DUE = "digests.tasks.build_weekly_due"


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


def enqueue_or_leave_owed(name: str, *args) -> None:
    """Queue task ``name`` after commit; when the broker refuses, log one warning and carry on.

    For work that a database row already owes (the transactional outbox):
    housekeeping hands it over again once the broker is back, so a broker
    outage must not fail the request that owed it.
    """

    def send() -> None:
        try:
            _send(name, args, None)
        except Exception as exc:  # kombu, redis and socket errors alike: the row stays owed
            log.warning("broker unavailable, %s%r left for housekeeping: %s: %s", name, args, type(exc).__name__, exc)

    transaction.on_commit(send)


def _send(name: str, args: tuple, countdown: float | None) -> None:
    # Through the registered task (not send_task) so eager mode and routing apply as for .delay().
    current_app.tasks[name].apply_async(args, countdown=countdown)
