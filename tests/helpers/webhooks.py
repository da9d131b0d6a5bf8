"""Provider webhook payloads and the credentials they are signed or authenticated with.

Payloads follow the providers' documented webhook formats (Postmark's bounce,
delivery, open, click, spam-complaint and subscription-change webhooks;
Mailgun's signed JSON "event-data" webhooks) as anymail's own tests use them.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import hmac
import importlib
import json
import time

from django.test import override_settings
from django.urls import clear_url_caches
from django.utils import timezone

from digests.models import Delivery

SECRETS = ["old-user:old-secret", "webhook:current-secret"]
MAILGUN_KEY = "mailgun-webhook-signing-key"
POSTMARK_URL = "/webhooks/anymail/postmark/tracking/"
MAILGUN_URL = "/webhooks/anymail/mailgun/tracking/"


def _remount() -> None:
    import newsletter.urls

    importlib.reload(newsletter.urls)
    clear_url_caches()


@contextlib.contextmanager
def webhook_routes(*providers: str):
    """The URLconf as it is built when WEBHOOK_PROVIDERS names ``providers`` (routes are built at start-up)."""
    with override_settings(WEBHOOK_PROVIDERS=list(providers)):
        _remount()
        yield
    _remount()


def basic_auth(secret: str = SECRETS[1]) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def iso_now(offset_seconds: float = 0) -> str:
    return (timezone.now() + datetime.timedelta(seconds=offset_seconds)).isoformat().replace("+00:00", "Z")


def metadata(delivery: Delivery) -> dict:
    return {"delivery_id": str(delivery.pk), "digest_id": str(delivery.digest_id)}


def postmark_bounce(delivery: Delivery, *, type_="HardBounce", id_=None, offset=0, with_metadata=True) -> dict:
    return {
        "RecordType": "Bounce",
        "MessageStream": "broadcast",
        "ID": id_ if id_ is not None else int(time.time() * 1000) + offset,
        "Type": type_,
        "TypeCode": {"HardBounce": 1, "SoftBounce": 4096}.get(type_, 1),
        "Name": type_,
        "Tag": "digest",
        "MessageID": delivery.provider_message_id,
        "Metadata": metadata(delivery) if with_metadata else {},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": delivery.subscriber.email,
        "From": "digest@newsletter.example",
        "BouncedAt": iso_now(offset),
        "DumpAvailable": False,
        "Inactive": type_ == "HardBounce",
        "CanActivate": True,
        "Subject": "AI 行业动态",
    }


def postmark_delivery(delivery: Delivery, *, offset=0) -> dict:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "broadcast",
        "MessageID": delivery.provider_message_id,
        "Recipient": delivery.subscriber.email,
        "Tag": "digest",
        "DeliveredAt": iso_now(offset),
        "Details": "smtp;250 2.0.0 OK",
        "Metadata": metadata(delivery),
    }


def postmark_complaint(delivery: Delivery, *, id_=None) -> dict:
    return {
        **postmark_bounce(delivery, type_="SpamComplaint", id_=id_),
        "RecordType": "SpamComplaint",
        "TypeCode": 512,
        "Description": "The subscriber explicitly marked this message as spam.",
    }


def postmark_open(delivery: Delivery, *, offset=0) -> dict:
    return {
        "RecordType": "Open",
        "MessageStream": "broadcast",
        "FirstOpen": True,
        "Client": {"Name": "Gmail", "Company": "Google", "Family": "Gmail"},
        "OS": {"Name": "unknown", "Company": "unknown", "Family": "unknown"},
        "Platform": "WebMail",
        "UserAgent": "Mozilla/5.0",
        "Geo": {},
        "MessageID": delivery.provider_message_id,
        "Metadata": metadata(delivery),
        "ReceivedAt": iso_now(offset),
        "Tag": "digest",
        "Recipient": delivery.subscriber.email,
    }


def postmark_click(delivery: Delivery, url: str, *, offset=0) -> dict:
    return {
        "RecordType": "Click",
        "MessageStream": "broadcast",
        "ClickLocation": "HTML",
        "Platform": "Desktop",
        "UserAgent": "Mozilla/5.0",
        "OriginalLink": url,
        "MessageID": delivery.provider_message_id,
        "Metadata": metadata(delivery),
        "ReceivedAt": iso_now(offset),
        "Tag": "digest",
        "Recipient": delivery.subscriber.email,
    }


def postmark_unsubscribe(delivery: Delivery) -> dict:
    return {
        "RecordType": "SubscriptionChange",
        "MessageID": delivery.provider_message_id,
        "ServerID": 23,
        "MessageStream": "broadcast",
        "ChangedAt": iso_now(),
        "Recipient": delivery.subscriber.email,
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "digest",
        "Metadata": metadata(delivery),
    }


def mailgun_signed(event_data: dict, *, key: str = MAILGUN_KEY, token: str | None = None) -> dict:
    timestamp = str(int(time.time()))
    token = token or hashlib.sha256(json.dumps(event_data, sort_keys=True).encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event_data}


def mailgun_event(delivery: Delivery, event: str, **extra) -> dict:
    return {
        "event": event,
        "id": f"mg-{event}-{delivery.pk}",
        "timestamp": time.time(),
        "recipient": delivery.subscriber.email,
        "log-level": "info",
        "message": {
            "headers": {
                "to": delivery.subscriber.email,
                "message-id": delivery.message_id.strip("<>"),
                "from": "digest@newsletter.example",
                "subject": "AI 行业动态",
            }
        },
        "user-variables": metadata(delivery),
        **extra,
    }
