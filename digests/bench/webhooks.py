"""Webhook load test: many one-event requests over real HTTP, counted and timed.

Used by ``manage.py bench_webhooks`` against a live server and by the test
suite (a smaller burst against pytest's live server). The payloads are
Postmark tracking events in Postmark's documented format, each carrying the
delivery metadata our sender attaches.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.urls import reverse

from digests.models import Category, Delivery, Digest, Item, Subscriber

BENCH_DOMAIN = "bench.invalid"
BENCH_ISSUE_DATE = datetime.date(1970, 1, 1)


def postmark_path() -> str:
    """Where Postmark posts tracking events (anymail's route)."""
    return reverse("anymail:postmark_tracking_webhook")


@dataclass
class BenchResult:
    requests: int
    seconds: float
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.requests - self.statuses.get(200, 0)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def bench_fixture(*, readers: int) -> Digest:
    """A throw-away digest with one item and ``readers`` sent deliveries to addresses at .invalid."""
    if Digest.objects.filter(issue_date=BENCH_ISSUE_DATE).exists():
        raise ValueError(f"A digest dated {BENCH_ISSUE_DATE} exists; remove it (or run bench cleanup) first.")
    now = datetime.datetime.now(datetime.UTC)
    digest = Digest.objects.create(issue_date=BENCH_ISSUE_DATE, title="webhook benchmark", status=Digest.Status.SENT)
    category, _ = Category.objects.get_or_create(
        name="webhook benchmark", defaults={"slug": "webhook-benchmark", "is_active": False}
    )
    Item.objects.create(digest=digest, category=category, title="bench", summary="bench", source_url="https://example.com/bench")
    subscribers = Subscriber.objects.bulk_create(
        Subscriber(
            email=f"bench-{i}@{BENCH_DOMAIN}", status=Subscriber.Status.ACTIVE, confirmed_at=now - datetime.timedelta(days=1)
        )
        for i in range(readers)
    )
    Delivery.objects.bulk_create(
        Delivery(
            digest=digest,
            subscriber=s,
            variant="",
            not_before=now,
            status=Delivery.Status.SENT,
            sent_at=now,
            provider_message_id=f"bench-{s.pk}",
        )
        for s in subscribers
    )
    return digest


def bench_cleanup() -> None:
    """Remove everything bench_fixture made (events go with their deliveries)."""
    Digest.objects.filter(issue_date=BENCH_ISSUE_DATE).delete()
    Subscriber.objects.filter(email__endswith="@" + BENCH_DOMAIN).delete()
    Category.objects.filter(name="webhook benchmark", items__isnull=True).delete()


def postmark_payload(delivery: Delivery, kind: str, n: int) -> dict:
    """One Postmark tracking event (Delivery, Open, Click or a soft Bounce) for ``delivery``; ``n`` makes it unique."""
    at = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(microseconds=n)).isoformat().replace("+00:00", "Z")
    common = {
        "MessageStream": "broadcast",
        "MessageID": delivery.provider_message_id or f"bench-{delivery.pk}",
        "Metadata": {"delivery_id": str(delivery.pk), "digest_id": str(delivery.digest_id)},
        "Tag": "digest",
        "ServerID": 23,
    }
    if kind == "delivered":
        return {
            "RecordType": "Delivery",
            "Recipient": delivery.subscriber.email,
            "DeliveredAt": at,
            "Details": "smtp;250 2.0.0 OK",
            **common,
        }
    if kind == "opened":
        return {
            "RecordType": "Open",
            "FirstOpen": n % 2 == 0,
            "Recipient": delivery.subscriber.email,
            "ReceivedAt": at,
            "Platform": "WebMail",
            "UserAgent": "Mozilla/5.0",
            **common,
        }
    if kind == "clicked":
        return {
            "RecordType": "Click",
            "Recipient": delivery.subscriber.email,
            "ReceivedAt": at,
            "ClickLocation": "HTML",
            "OriginalLink": "https://example.com/bench",
            "Platform": "Desktop",
            "UserAgent": "Mozilla/5.0",
            **common,
        }
    return {
        "RecordType": "Bounce",
        "ID": 9_000_000_000 + n,
        "Type": "SoftBounce",
        "TypeCode": 4096,
        "Name": "Soft bounce",
        "Email": delivery.subscriber.email,
        "BouncedAt": at,
        "Description": "Mailbox full",
        "Details": "452 4.2.2 over quota",
        "Inactive": False,
        "CanActivate": True,
        **common,
    }


def bench_payloads(deliveries: list[Delivery], events: int) -> list[bytes]:
    """``events`` distinct request bodies: mostly deliveries and opens, some clicks and soft bounces."""
    mix = ["delivered"] * 12 + ["opened"] * 5 + ["clicked"] * 2 + ["bounced"]
    return [json.dumps(postmark_payload(deliveries[n % len(deliveries)], mix[n % len(mix)], n)).encode() for n in range(events)]


def webhooks_fire(
    url: str, bodies: list[bytes], *, threads: int = 4, basic_auth: str | None = None, timeout: float = 30
) -> BenchResult:
    """POST each body to ``url`` (one event per request) from ``threads`` keep-alive clients."""
    headers = {"Content-Type": "application/json"}
    if basic_auth:
        headers["Authorization"] = "Basic " + base64.b64encode(basic_auth.encode()).decode()
    local = threading.local()
    lock = threading.Lock()
    statuses: Counter = Counter()
    failures: list[str] = []

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")

    def post(body: bytes) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        try:
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            local.conn = None
            status, note = 0, f"{type(exc).__name__}: {exc}"
        else:
            note = "" if status == 200 else f"HTTP {status}"
        with lock:
            statuses[status] += 1
            if note and len(failures) < 10:
                failures.append(note)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(post, bodies))
    return BenchResult(requests=len(bodies), seconds=time.perf_counter() - started, statuses=statuses, failures=failures)
