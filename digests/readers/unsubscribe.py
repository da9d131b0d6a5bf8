"""Leaving the list: immediate, idempotent, and through the status life cycle."""

from __future__ import annotations

from digests.models import Subscriber
from digests.readers.status import subscriber_transition

S = Subscriber.Status


def subscriber_unsubscribe(subscriber: Subscriber, *, reason: str = "unsubscribed by the reader") -> bool:
    """Unsubscribe ``subscriber`` now (pending deliveries are withdrawn); False if they already were.

    A bounced or complained reader also moves to unsubscribed: they asked to
    leave, and neither state is mailed anyway.
    """
    if subscriber.status == S.UNSUBSCRIBED:
        return False
    return subscriber_transition(subscriber, to=S.UNSUBSCRIBED, reason=reason)
