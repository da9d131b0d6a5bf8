"""Keyed hashes instead of personal data, a reader's own data export, and erasure.

Erasure deletes the subscriber with their consent records and delivery
history and keeps only a keyed hash of the address in ``Suppression``, so a
CSV import can never bring the address back by accident. The reader may
still come back through the signup form: that needs a fresh double opt-in,
and confirming lifts the suppression (``address_unsuppress``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from django.conf import settings
from django.db import transaction

from digests.models import Delivery, Subscriber, Suppression
from digests.readers.normalise import email_key


def _keyed_hash(purpose: str, value: str) -> str:
    return hmac.digest(_hash_key(purpose, settings.SECRET_KEY), value.encode("utf-8"), "sha256").hex()


@functools.lru_cache(maxsize=8)
def _hash_key(purpose: str, secret: str) -> bytes:
    # Derived once per key, not once per address: an import hashes every address it is given.
    return hashlib.sha256(f"digests.{purpose}:{secret}".encode()).digest()


def ip_hash(ip: str | None) -> str:
    """A keyed hash of a client IP address (empty for none); the address itself is never stored."""
    return _keyed_hash("ip", ip) if ip else ""


def address_hash(address: str) -> str:
    """The keyed hash a normalised address is suppressed under (case-insensitive)."""
    return _keyed_hash("suppression", email_key(address))


def address_is_suppressed(address: str) -> bool:
    return Suppression.objects.filter(email_hash=address_hash(address)).exists()


def addresses_suppressed(addresses: list[str]) -> set[str]:
    """Which of ``addresses`` are suppressed, in one query."""
    by_hash = {address_hash(address): address for address in addresses}
    found = Suppression.objects.filter(email_hash__any=list(by_hash)).values_list("email_hash", flat=True)
    return {by_hash[h] for h in found}


def address_unsuppress(address: str) -> int:
    """Lift the suppression of ``address`` (after a confirmed opt-in); the number of rows removed."""
    deleted, _ = Suppression.objects.filter(email_hash=address_hash(address)).delete()
    return deleted


@transaction.atomic
def subscriber_erase(subscriber: Subscriber, *, reason: str = "erased") -> None:
    """Delete ``subscriber`` and everything about them, keeping only the address's keyed hash."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    Suppression.objects.get_or_create(email_hash=address_hash(subscriber.email), defaults={"reason": reason})
    # The admin history names objects by their str(), i.e. the address.
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Subscriber), object_id=str(subscriber.pk)).update(
        object_repr=erased_repr(subscriber.pk), change_message=""
    )
    # Deliveries, their events and consent records cascade with the subscriber.
    subscriber.delete()


def erased_repr(pk: int) -> str:
    """How the admin history names a subscriber once they are erased."""
    return f"subscriber #{pk} (erased)"


def subscriber_data_export(subscriber: Subscriber) -> dict:
    """Everything stored about ``subscriber``, as JSON-ready data (what "download my data" returns)."""
    deliveries = Delivery.objects.filter(subscriber=subscriber).select_related("digest").order_by("created_at")
    return {
        "profile": {
            "email": subscriber.email,
            "name": subscriber.name,
            "status": subscriber.status,
            "timezone": subscriber.timezone or None,
            "language": subscriber.language,
            "frequency": subscriber.frequency,
            "weekly_day": subscriber.weekly_day,
            "source": subscriber.source,
            "created_at": _iso(subscriber.created_at),
            "confirmed_at": _iso(subscriber.confirmed_at),
            "unsubscribed_at": _iso(subscriber.unsubscribed_at),
            "confirmation_sent_at": _iso(subscriber.confirmation_sent_at),
            "suppressed_at": _iso(subscriber.suppressed_at),
            "suppression_reason": subscriber.suppression_reason,
        },
        "categories": [{"slug": c.slug, "name": c.name} for c in subscriber.categories.order_by("position", "id")],
        "consent_records": [
            {"given_at": _iso(c.created_at), "form": c.form, "ip_hash": c.ip_hash, "wording": c.wording}
            for c in subscriber.consents.order_by("created_at")
        ],
        "frequency_changes": [
            {"changed_at": _iso(m.created_at), "from": m.old, "to": m.new, "via": m.via}
            for m in subscriber.frequency_changes.order_by("created_at", "pk")
        ],
        "deliveries": [
            {
                "digest": d.digest.title,
                "issue_date": d.digest.issue_date.isoformat(),
                "status": d.status,
                "sent_at": _iso(d.sent_at),
                "message_id": d.message_id,
            }
            for d in deliveries
        ],
    }


def _iso(value) -> str | None:
    return value.isoformat() if value else None
