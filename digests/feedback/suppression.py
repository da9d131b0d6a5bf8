"""Suppression rules: what a reported event does to the reader.

Every status change goes through ``subscriber_transition`` (which also
withdraws the reader's pending deliveries). The rules are idempotent and
tolerate events that arrive late, twice or out of order: the soft-bounce
streak is recomputed from the stored events instead of being counted up.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from digests.models import DeliveryEvent, Subscriber
from digests.readers.status import TRANSITIONS, subscriber_transition

log = logging.getLogger(__name__)

S = Subscriber.Status
# Event types whose arrival may change a reader.
ACTIONABLE = {"bounced", "rejected", "complained", "unsubscribed"}


class SuppressionLiftRefused(ValueError):
    """The reader is not suppressed for a bounce, so an admin cannot lift it."""


def event_needs_processing(event: DeliveryEvent) -> bool:
    """Whether the rules could change anything: the receiver queues only these events.

    Deliveries are most of the traffic; they matter only to reset a running soft-bounce streak.
    """
    if event.event_type in ACTIONABLE:
        return True
    return event.event_type == "delivered" and event.subscriber is not None and event.subscriber.soft_bounces > 0


def _reason(event: DeliveryEvent, what: str) -> str:
    when = timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M")
    detail = f": {event.description}" if event.description else ""
    return f"{what} ({event.provider}, {when}){detail}"[:2000]


def _move(subscriber: Subscriber, to: str, reason: str) -> bool:
    if to not in TRANSITIONS[subscriber.status]:
        # e.g. a bounce for a reader who already complained: the stronger state stays.
        return False
    return subscriber_transition(subscriber, to=to, reason=reason)


def subscriber_soft_bounce_streak(subscriber: Subscriber) -> int:
    """Messages that soft-bounced since the reader's last delivered one (or last (re)confirmation)."""
    events = DeliveryEvent.objects.filter(subscriber=subscriber)
    since = events.filter(event_type="delivered").aggregate(last=Max("occurred_at"))["last"]
    if subscriber.confirmed_at and (since is None or subscriber.confirmed_at > since):
        since = subscriber.confirmed_at
    soft = events.filter(event_type="bounced", bounce_type="soft")
    if since is not None:
        soft = soft.filter(occurred_at__gt=since)
    # A provider may report several soft bounces for one message; the rule counts messages.
    return soft.values("delivery_id").distinct().count()


def _predates_confirmation(subscriber: Subscriber, occurred_at: datetime) -> bool:
    # An admin lifted the suppression (or the reader opted in again) after this
    # event happened: a late or replayed report must not undo that.
    return bool(subscriber.confirmed_at and occurred_at < subscriber.confirmed_at)


def delivery_event_process(event: DeliveryEvent) -> str:
    """Apply the suppression rules for one stored event; returns a short word for what happened."""
    subscriber = event.subscriber
    if subscriber is None:
        return "no-reader"
    subscriber.refresh_from_db()
    kind, bounce = event.event_type, event.bounce_type
    reject_reason = (event.payload or {}).get("reject_reason") if isinstance(event.payload, dict) else None

    if kind in ("bounced", "delivered"):
        streak = subscriber_soft_bounce_streak(subscriber)
        if streak != subscriber.soft_bounces:
            Subscriber.objects.filter(pk=subscriber.pk).update(soft_bounces=streak)
            subscriber.soft_bounces = streak
    if kind == "delivered" or _predates_confirmation(subscriber, event.occurred_at):
        return "recorded"

    if kind == "complained" or (kind == "rejected" and reject_reason == "spam"):
        moved = _move(subscriber, S.COMPLAINED, _reason(event, _("Spam complaint")))
        return "complained" if moved else "unchanged"
    if bounce == "hard":
        what = _("Hard bounce") if kind == "bounced" else _("Rejected by the provider (invalid or bouncing address)")
        moved = _move(subscriber, S.BOUNCED, _reason(event, what))
        return "bounced" if moved else "unchanged"
    if bounce == "soft" and subscriber.soft_bounces >= settings.SOFT_BOUNCE_LIMIT:
        what = _("%(count)d soft bounces in a row") % {"count": subscriber.soft_bounces}
        moved = _move(subscriber, S.BOUNCED, _reason(event, what))
        return "bounced" if moved else "unchanged"
    if kind == "unsubscribed" or (kind == "rejected" and reject_reason == "unsubscribed"):
        if subscriber.status in (S.ACTIVE, S.PENDING):
            subscriber_transition(subscriber, to=S.UNSUBSCRIBED, reason=_reason(event, _("Unsubscribed at the provider")))
            return "unsubscribed"
        return "unchanged"
    return "recorded"


def delivery_event_process_by_pk(event_pk: int) -> str:
    """The task's entry point: a missing row (deleted reader) is not an error."""
    event = DeliveryEvent.objects.select_related("subscriber").filter(pk=event_pk).first()
    if event is None:
        log.info("delivery event %s no longer exists", event_pk)
        return "missing"
    return delivery_event_process(event)


def subscriber_lift_bounce(subscriber: Subscriber) -> None:
    """Make a bounced reader active again (an admin's explicit decision).

    A complaint is never lifted here: only the reader opting in again can.
    """
    subscriber.refresh_from_db()
    if subscriber.status == S.COMPLAINED:
        raise SuppressionLiftRefused(_("%(email)s complained; only the reader can opt in again.") % {"email": subscriber.email})
    if subscriber.status != S.BOUNCED:
        raise SuppressionLiftRefused(_("%(email)s is not suppressed for a bounce.") % {"email": subscriber.email})
    subscriber_transition(subscriber, to=S.ACTIVE)
