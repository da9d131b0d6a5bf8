"""Making deliveries for tests: one digest to one reader, sent (with message ids) or still pending."""

from __future__ import annotations

from django.utils import timezone

from digests.models import Delivery, Digest, Subscriber


def make_delivery(digest: Digest, subscriber: Subscriber, *, status=Delivery.Status.SENT) -> Delivery:
    now = timezone.now()
    delivery = Delivery.objects.create(
        digest=digest,
        subscriber=subscriber,
        variant="",
        not_before=now,
        status=status,
        sent_at=now if status == Delivery.Status.SENT else None,
    )
    if status == Delivery.Status.SENT:
        delivery.message_id = f"<{delivery.pk}.digest@newsletter.example>"
        delivery.provider_message_id = f"pm-{delivery.pk}-883953f4-6105-42a2"
        delivery.save(update_fields=["message_id", "provider_message_id"])
    return delivery
