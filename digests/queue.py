"""The one seam between the stages and Celery: hand a task to the broker by its name.

Stages never import ``digests.tasks`` (which imports the stages); they name
the task here instead. The task names are written once, below, and
``digests.tasks`` registers each task under exactly that name.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

SEND_CONFIRMATION = "digests.tasks.send_transactional_confirmation"  # before the outbox; still accepted from old queues
SEND_TRANSACTIONAL = "digests.tasks.send_transactional_email"
SEND_TRANSACTIONAL_DUE = "digests.tasks.send_transactional_due"
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


def enqueue_once_or_leave_owed(name: str, *, flag: str, seconds: int, countdown: float) -> None:
    """Queue task ``name`` (no arguments) to start ``countdown`` seconds after commit, unless one is queued already.

    ``flag`` in the cache says one is queued; the task calls ``enqueue_once_started(flag)``
    before it looks for work, so whatever is committed after that queues another. Like
    ``enqueue_or_leave_owed``, a broker outage costs one warning: the work stays owed in the
    database. Without the cache every call queues its own task.
    """

    def send() -> None:
        try:
            first = cache.add(flag, 1, timeout=seconds)
        except Exception:  # no cache: no coalescing, nothing lost
            first = True
        if not first:
            return
        try:
            _send(name, (), countdown)
        except Exception as exc:  # the row stays owed; let the next one try the broker again
            _forget(flag)
            log.warning("broker unavailable, %s left for housekeeping: %s: %s", name, type(exc).__name__, exc)

    transaction.on_commit(send)


def enqueue_once_started(flag: str) -> None:
    """The task queued by ``enqueue_once_or_leave_owed`` has started: work owed from now on queues another."""
    _forget(flag)


def _forget(flag: str) -> None:
    try:
        cache.delete(flag)
    except Exception as exc:  # the flag expires by itself
        log.warning("cache unavailable, %s stays until it expires: %s: %s", flag, type(exc).__name__, exc)


def _send(name: str, args: tuple, countdown: float | None) -> None:
    # Through the registered task (not send_task) so eager mode and routing apply as for .delay().
    current_app.tasks[name].apply_async(args, countdown=countdown)
