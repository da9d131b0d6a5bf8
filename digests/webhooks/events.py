"""Record an event and queue its delivery to every endpoint that wants it."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from digests import queue
from digests.models import Digest, Subscriber, WebhookDelivery, WebhookEndpoint, WebhookEvent
from digests.models.automation import EVENT_TYPES

log = logging.getLogger(__name__)


def event_emit(event_type: str, data: dict) -> WebhookEvent | None:
    """Record ``event_type`` with ``data`` and deliver it after the current transaction commits.

    Nothing is recorded when no enabled endpoint wants the event. A broker
    error after commit is logged, not raised: the retry sweep delivers it.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = [e for e in WebhookEndpoint.objects.filter(enabled=True) if e.wants(event_type)]
    if not endpoints:
        return None
    now = timezone.now()
    event = WebhookEvent.objects.create(
        event_type=event_type, payload={"type": event_type, "timestamp": now.isoformat(), "data": data}
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=endpoint, event=event, next_attempt_at=now) for endpoint in endpoints]
    )
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: _enqueue(ids), robust=True)
    return event


def _enqueue(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        try:
            queue.enqueue(queue.WEBHOOK_DELIVER, delivery_id, on_commit=False)
        except Exception:  # the broker is down: the periodic sweep picks the delivery up
            log.exception("could not queue webhook delivery %s", delivery_id)


def digest_data(digest: Digest, **extra) -> dict:
    """What a digest event says about the digest."""
    return {
        "id": digest.pk,
        "issue_date": digest.issue_date.isoformat(),
        "title": digest.title,
        "status": digest.status,
        "scheduled_at": digest.scheduled_at.isoformat() if digest.scheduled_at else None,
        **extra,
    }


def subscriber_data(subscriber: Subscriber, **extra) -> dict:
    """What a subscriber event says about the reader (their API id, never the database pk)."""
    return {"id": str(subscriber.key), "email": subscriber.email, "status": subscriber.status, **extra}
