"""Deliver one event to one endpoint, signed per Standard Webhooks, and decide when to try again.

Retries back off exponentially (WEBHOOK_RETRY_BASE_SECONDS doubled each time,
at most half an hour apart, with ±25 % jitter) for 24 hours after the event. An
endpoint that has failed without a single success for 24 hours is disabled and
the Publishers are told by email.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import random
import secrets
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from digests import queue
from digests.mail.publishers import publishers_notify
from digests.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

D = WebhookDelivery.Status
RETRY_FOR = datetime.timedelta(hours=24)
DISABLE_AFTER = datetime.timedelta(hours=24)
MAX_DELAY_SECONDS = 1800
LEASE = datetime.timedelta(minutes=5)


def webhook_secret_new() -> str:
    """A fresh signing secret in the Standard Webhooks form ``whsec_<base64>``."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: exponential, capped, with jitter."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return min(base, MAX_DELAY_SECONDS) * random.uniform(0.75, 1.25)


def webhook_signed_request(endpoint: WebhookEndpoint, event: WebhookEvent) -> urllib.request.Request:
    """The POST for ``event``: JSON body and the webhook-id, -timestamp and -signature headers."""
    body = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":"))
    now = timezone.now()
    signature = Webhook(endpoint.secret).sign(event.message_id, now, body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "daily-digest-newsletter webhooks",  # ASCII: header values are latin-1
        "webhook-id": event.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return urllib.request.Request(endpoint.url, data=body.encode("utf-8"), headers=headers, method="POST")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could point the signed request anywhere (an internal address): treat it as a failure.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(request: urllib.request.Request) -> tuple[int | None, str]:
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return None, str(exc)[:500] or exc.__class__.__name__


def _claim(delivery_id: int, now: datetime.datetime) -> WebhookDelivery | None:
    # A conditional UPDATE: the task and the sweep cannot both send one delivery.
    claimable = WebhookDelivery.objects.filter(pk=delivery_id, status__in=[D.PENDING, D.RETRY], next_attempt_at__lte=now)
    stuck = WebhookDelivery.objects.filter(pk=delivery_id, status=D.SENDING, updated_at__lt=now - LEASE)
    if not (claimable.update(status=D.SENDING, updated_at=now) or stuck.update(status=D.SENDING, updated_at=now)):
        return None
    return WebhookDelivery.objects.select_related("endpoint", "event").get(pk=delivery_id)


def webhook_deliver(delivery_id: int) -> str:
    """Make one attempt at a delivery; returns its new status (or "skipped" when nothing was due)."""
    now = timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return "skipped"
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=D.FAILED, next_attempt_at=None)
        return D.FAILED
    started = time.monotonic()
    status_code, error = _post(webhook_signed_request(endpoint, delivery.event))
    ok = status_code is not None and 200 <= status_code < 300
    now = timezone.now()
    attempts = delivery.attempts + 1
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            endpoint=endpoint,
            status_code=status_code,
            ok=ok,
            error="" if ok else error,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        if ok:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(status=D.DELIVERED, attempts=attempts, next_attempt_at=None)
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            return D.DELIVERED
        next_at = now + datetime.timedelta(seconds=retry_delay(attempts))
        final = next_at > delivery.event.created_at + RETRY_FOR
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=D.FAILED if final else D.RETRY, attempts=attempts, next_attempt_at=None if final else next_at
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    endpoint.refresh_from_db()
    # Failing for a day: either by the clock, or because this event's whole day of retries found no success.
    failing_all_along = final and endpoint.failing_since and endpoint.failing_since <= delivery.event.created_at
    if endpoint.failing_since and (now - endpoint.failing_since >= DISABLE_AFTER or failing_all_along):
        endpoint_disable(endpoint, reason=f"failing since {endpoint.failing_since:%Y-%m-%d %H:%M %Z}: {error}")
    elif not final:
        queue.enqueue(queue.WEBHOOK_DELIVER, delivery.pk, countdown=(next_at - now).total_seconds(), on_commit=False)
    return D.FAILED if final else D.RETRY


def endpoint_disable(endpoint: WebhookEndpoint, *, reason: str) -> bool:
    """Disable a failing endpoint once and tell the Publishers; False if it was already disabled."""
    if not WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(enabled=False, disabled_reason=reason[:300]):
        return False
    WebhookDelivery.objects.filter(endpoint=endpoint, status__in=[D.PENDING, D.RETRY]).update(
        status=D.FAILED, next_attempt_at=None
    )
    log.warning("webhook endpoint %s disabled: %s", endpoint.url, reason)
    publishers_notify(
        subject=f"Webhook endpoint disabled: {endpoint.url}",
        body=(
            f"The webhook endpoint {endpoint.url} has failed every delivery for 24 hours and was disabled.\n\n"
            f"Last problem: {reason}\n\nFix the receiver, then enable the endpoint again in the admin."
        ),
    )
    return True


def webhooks_retry_due(*, now: datetime.datetime | None = None) -> int:
    """The periodic sweep: queue every delivery whose time has come (lost tasks, broker outages)."""
    now = now or timezone.now()
    stale = now - LEASE
    due = WebhookDelivery.objects.filter(
        status__in=[D.PENDING, D.RETRY], next_attempt_at__lte=now - datetime.timedelta(seconds=30)
    )
    stuck = WebhookDelivery.objects.filter(status=D.SENDING, updated_at__lt=stale)
    ids = list(due.values_list("pk", flat=True)[:500]) + list(stuck.values_list("pk", flat=True)[:100])
    for delivery_id in ids:
        queue.enqueue(queue.WEBHOOK_DELIVER, delivery_id, on_commit=False)
    return len(ids)


def endpoint_send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Deliver a ``test`` event to one endpoint, now, whatever event types it chose; returns the logged delivery."""
    event = WebhookEvent.objects.create(
        event_type="test", payload={"type": "test", "timestamp": timezone.now().isoformat(), "data": {"endpoint": endpoint.url}}
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, next_attempt_at=timezone.now())
    # A test is one attempt, shown at once to whoever clicked: no retries.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=D.SENDING)
    delivery.refresh_from_db()
    status_code, error = _post(webhook_signed_request(endpoint, event))
    ok = status_code is not None and 200 <= status_code < 300
    WebhookAttempt.objects.create(delivery=delivery, endpoint=endpoint, status_code=status_code, ok=ok, error="" if ok else error)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=D.DELIVERED if ok else D.FAILED, attempts=1, next_attempt_at=None
    )
    delivery.refresh_from_db()
    return delivery
