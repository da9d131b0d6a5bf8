"""The one place a subscriber's status changes."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from digests.models import Delivery, Subscriber
from digests.webhooks.events import event_emit, subscriber_data

S = Subscriber.Status

TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.ACTIVE, S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED},
    S.ACTIVE: {S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED},
    # Coming back always goes through a fresh confirmation (pending) first.
    S.UNSUBSCRIBED: {S.PENDING, S.BOUNCED, S.COMPLAINED},
    # An admin may lift a bounce; a complaint is lifted only by opting in again.
    S.BOUNCED: {S.ACTIVE, S.PENDING, S.UNSUBSCRIBED, S.COMPLAINED},
    S.COMPLAINED: {S.PENDING, S.UNSUBSCRIBED},
}
SUPPRESSED = {S.BOUNCED, S.COMPLAINED}
# The outgoing webhook each move announces (a bounce lifted by an admin is not a confirmation).
EVENTS = {
    (S.PENDING, S.ACTIVE): "subscriber.confirmed",
    S.UNSUBSCRIBED: "subscriber.unsubscribed",
    S.BOUNCED: "subscriber.bounced",
    S.COMPLAINED: "subscriber.complained",
}


class SubscriberTransitionError(ValueError):
    pass


def subscriber_transition(subscriber: Subscriber, *, to: str, reason: str = "") -> bool:
    """Move ``subscriber`` to status ``to``; False if it already is there.

    Leaving ``active`` withdraws every delivery still pending for the reader,
    so an unsubscribe or a bounce takes effect even for a send in progress.
    Raises SubscriberTransitionError for a move the life cycle forbids.
    """
    current = subscriber.status
    if current == to:
        return False
    if to not in TRANSITIONS[current]:
        raise SubscriberTransitionError(f"A subscriber who is {current} cannot become {to}.")
    now = timezone.now()
    changes = _changes(to, now=now, reason=reason)
    with transaction.atomic():
        updated = Subscriber.objects.filter(pk=subscriber.pk, status=current).update(**changes)
        if not updated:
            subscriber.refresh_from_db()
            return subscriber_transition(subscriber, to=to, reason=reason) if subscriber.status != to else False
        if to != S.ACTIVE:
            withdrawn = Delivery.withdrawn_status(to)
            Delivery.objects.filter(subscriber_id=subscriber.pk, status=Delivery.Status.PENDING).update(
                status=withdrawn, last_error=reason or f"subscriber {to}", updated_at=now
            )
        event = EVENTS.get((current, to)) or EVENTS.get(to)
        if event:
            event_emit(event, subscriber_data(subscriber, status=to, reason=reason, occurred_at=now.isoformat()))
    for name, value in changes.items():
        setattr(subscriber, name, value)
    return True


def _changes(to: str, *, now, reason: str = "") -> dict:
    changes: dict = {"status": to, "updated_at": now}
    if to == S.ACTIVE:
        changes.update(confirmed_at=now, unsubscribed_at=None, suppressed_at=None, suppression_reason="", soft_bounces=0)
    elif to == S.UNSUBSCRIBED:
        changes["unsubscribed_at"] = now
    elif to in SUPPRESSED:
        changes.update(suppressed_at=now, suppression_reason=reason)
    elif to == S.PENDING:
        changes.update(confirmed_at=None)
    return changes


def new_subscriber_fields(*, confirmed: bool, now) -> dict:
    """The status fields of a reader created pending, or created already confirmed (a list owner's opted-in import).

    A reader created confirmed is where ``subscriber_transition(…, to=ACTIVE)``
    would take a pending one, without the UPDATE; ``subscribers_announce_confirmed``
    announces it the same way.
    """
    return _changes(S.ACTIVE, now=now) if confirmed else {"status": S.PENDING}


def subscribers_announce_confirmed(subscribers: Iterable[Subscriber], *, now) -> None:
    """Emit the confirmation event of readers created confirmed; stops at once when nobody listens."""
    for subscriber in subscribers:
        if not event_emit(EVENTS[(S.PENDING, S.ACTIVE)], subscriber_data(subscriber, occurred_at=now.isoformat())):
            break  # nobody listens for confirmations: no need to ask for each reader (or to build them)
