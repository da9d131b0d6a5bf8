"""The anymail tracking-signal receiver: store quickly, decide later.

Providers time webhooks out after a few seconds, so the request only stores
the row; the suppression rules run in a Celery task once the row is committed.
"""

from __future__ import annotations

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

from digests import queue
from digests.feedback.events import event_pk, event_store_from_provider
from digests.feedback.suppression import delivery_event_process_by_pk, event_needs_processing
from digests.queue import enqueue

log = logging.getLogger(__name__)


def _enqueue(event_pk: int) -> None:
    try:
        enqueue(queue.PROCESS_DELIVERY_EVENT, event_pk, on_commit=False)
    except OperationalError:
        # The broker is down: a complaint must not be lost, so apply the rules now.
        log.exception("broker unavailable; processing delivery event %s in the request", event_pk)
        delivery_event_process_by_pk(event_pk)


def tracking_event_received(sender, event, esp_name, **kwargs) -> None:
    """Connected to anymail.signals.tracking in DigestsConfig.ready()."""
    row = event_store_from_provider(event=event, esp_name=esp_name)
    if row is None or not event_needs_processing(row):
        return
    # Queued for repeats too: processing is idempotent, and a repeat is how a
    # provider retries after we failed to queue the first copy.
    pk = event_pk(row)
    if pk is not None:
        transaction.on_commit(lambda: _enqueue(pk))
