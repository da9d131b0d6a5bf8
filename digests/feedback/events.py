"""Store what providers and our own tracking report, once per provider event.

Providers retry webhooks and sometimes send the same event twice; the row is
keyed by (provider, event id) with a database constraint, so a repeat is
recognised even when two copies arrive at the same moment.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.http import QueryDict
from django.utils import timezone

from digests.models import Delivery, DeliveryEvent, Item, Subscriber

log = logging.getLogger(__name__)

FIRST_PARTY = "first-party"

# Anymail's normalised bounce types do not tell a mailbox that does not exist
# from a full one; the raw provider fields do.
POSTMARK_SOFT_TYPES = {"SoftBounce", "VirusNotification", "Transient", "DnsError"}
MAILGUN_SOFT_REASONS = {"old", "espblock", "greylisted"}
HARD_REJECT_REASONS = {"invalid", "bounced"}


def event_bounce_type(*, provider: str, event_type: str, reject_reason: str | None, esp_event) -> str:
    """'hard', 'soft' or '' for one normalised anymail event, using the provider's raw fields."""
    if event_type == "rejected":
        return "hard" if reject_reason in HARD_REJECT_REASONS else ""
    if event_type != "bounced":
        return ""
    raw = esp_event if isinstance(esp_event, dict) else {}
    if provider == "postmark":
        return "soft" if raw.get("Type") in POSTMARK_SOFT_TYPES else "hard"
    if provider == "mailgun":
        reason = (raw.get("event-data") or {}).get("reason") or (raw.get("reason") if raw else None)
        return "soft" if reason in MAILGUN_SOFT_REASONS else "hard"
    # Other providers report temporary failures as "deferred"; a "bounced" is final.
    return "hard"


def _jsonable(esp_event) -> dict | list:
    if isinstance(esp_event, QueryDict):
        return {key: values if len(values) > 1 else values[0] for key, values in esp_event.lists()}
    try:
        return json.loads(json.dumps(esp_event, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        return {"unparsed": repr(esp_event)[:2000]}


def _event_id(provider_event_id: str | None, raw: dict | list) -> str:
    if provider_event_id:
        return str(provider_event_id)[:255]
    # Some events (Postmark deliveries, opens, clicks) carry no id; a retried
    # webhook repeats the payload byte for byte, so its digest identifies it.
    blob = json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def delivery_for_event(*, metadata: dict | None, message_id: str | None) -> Delivery | None:
    """The delivery an event is about: the sender's metadata first, the provider's message id second."""
    delivery_id = str((metadata or {}).get("delivery_id") or "")
    if delivery_id.isdigit():
        found = Delivery.objects.select_related("subscriber").filter(pk=int(delivery_id)).first()
        if found:
            return found
    if message_id:
        return Delivery.objects.select_related("subscriber").filter(provider_message_id=message_id).first()
    return None


def _item_for_click(delivery: Delivery, url: str) -> Item | None:
    if not url:
        return None
    return Item.objects.filter(digest_id=delivery.digest_id, source_url=url).first()


def event_store_from_provider(*, event, esp_name: str) -> DeliveryEvent | None:
    """Store one anymail tracking event against its delivery, once; None when no delivery matches.

    The returned row has no pk (the insert may have been a repeat); use event_pk().

    ``payload`` keeps the provider's raw event under ``esp_event`` next to the
    normalised fields the suppression rules need.
    """
    provider = esp_name.lower()
    delivery = delivery_for_event(metadata=event.metadata, message_id=event.message_id)
    if delivery is None:
        log.warning(
            "%s %s event for no known delivery (message id %r, metadata %r): ignored",
            esp_name,
            event.event_type,
            event.message_id,
            event.metadata,
        )
        return None
    raw = _jsonable(event.esp_event)
    url = (event.click_url or "")[:1000]
    fields = {
        "delivery": delivery,
        "subscriber": delivery.subscriber,
        "item": _item_for_click(delivery, url) if event.event_type == "clicked" else None,
        "event_type": event.event_type,
        "bounce_type": event_bounce_type(
            provider=provider, event_type=event.event_type, reject_reason=event.reject_reason, esp_event=raw
        ),
        "description": event.description or event.mta_response or "",
        "url": url,
        "occurred_at": event.timestamp or timezone.now(),
        "payload": {"reject_reason": event.reject_reason, "mta_response": event.mta_response, "esp_event": raw},
    }
    return _store(provider=provider, event_id=_event_id(event.event_id, raw), fields=fields)


def _store(*, provider: str, event_id: str, fields: dict) -> DeliveryEvent:
    # One INSERT ... ON CONFLICT DO NOTHING: a repeat (even a concurrent one)
    # is absorbed by the unique constraint without a read first.
    row = DeliveryEvent(provider=provider, event_id=event_id, **fields)
    DeliveryEvent.objects.bulk_create([row], ignore_conflicts=True)
    return row


def event_pk(row: DeliveryEvent) -> int | None:
    """The id of the stored row for ``row``'s (provider, event id), whichever copy got in first."""
    return DeliveryEvent.objects.filter(provider=row.provider, event_id=row.event_id).values_list("pk", flat=True).first()


def event_store_first_party(
    *,
    event_type: str,
    subscriber: Subscriber | None,
    delivery: Delivery | None,
    item: Item | None = None,
    url: str = "",
    occurred_at: datetime | None = None,
) -> DeliveryEvent:
    """Record a click or open seen by our own tracking endpoints (no provider id: every one counts)."""
    return DeliveryEvent.objects.create(
        provider=FIRST_PARTY,
        event_type=event_type,
        subscriber=subscriber,
        delivery=delivery,
        item=item,
        url=url[:1000],
        occurred_at=occurred_at or timezone.now(),
    )
