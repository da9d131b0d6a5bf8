"""Prometheus metrics computed from the database and the broker at scrape time.

Nothing is counted in process memory: web and worker processes come and go on
several machines, while the ledger (Delivery), the webhook events and the broker's
queues are shared, so a scrape of any web process gives the same true numbers.
The computed exposition is kept in the shared cache for METRICS_CACHE_SECONDS:
scrapes in that window (several Prometheus servers, a dashboard refreshing)
get the same figures without counting the subscriber and event tables again.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps priority levels 3, 6 and 9 of queue Q in lists "Q\x06\x16<n>".
REDIS_PRIORITY_SEPARATOR = "\x06\x16"
REDIS_PRIORITY_STEPS = (3, 6, 9)


def mail_provider(purpose: str = "bulk") -> str:
    """A short name for the connection that sends ``purpose`` mail: the anymail provider or the backend kind."""
    options = settings.MAIL_CONNECTIONS[purpose]
    if options.get("provider"):
        return options["provider"]
    backend = options["backend"]
    for kind in ("smtp", "locmem", "console", "filebased"):
        if f".{kind}." in backend:
            return kind
    return "outbox" if backend == "digests.mail.outbox.EmailBackend" else backend.rsplit(".", 2)[-2]


def queue_depths(queue_names: Iterable[str]) -> dict[str, int] | None:
    """Messages waiting in each Celery queue (Redis ``LLEN``), or None when the broker is not Redis."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None

    pipe = _redis_client(url).pipeline(transaction=False)
    names = list(queue_names)
    for name in names:
        pipe.llen(name)
        for step in REDIS_PRIORITY_STEPS:
            pipe.llen(f"{name}{REDIS_PRIORITY_SEPARATOR}{step}")
    lengths = pipe.execute()
    per_queue = 1 + len(REDIS_PRIORITY_STEPS)
    return {name: sum(lengths[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(names)}


@functools.cache
def _redis_client(url: str):
    """One client per process and URL: a scrape reuses its connection."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def deliveries_by_status() -> dict[str, int]:
    """Ledger rows by status over every digest: the database's counters on PostgreSQL, else a count."""
    from digests.models import Delivery, DeliveryCount

    if connection.vendor == "postgresql":
        rows = DeliveryCount.objects.values_list("status").annotate(n=Sum("count")).order_by()
    else:
        rows = Delivery.objects.values_list("status").annotate(n=Count("id")).order_by()
    return {status: int(n) for status, n in rows}


class NewsletterCollector(Collector):
    """Reads the shared state on every scrape and yields it as metric families."""

    def collect(self) -> Iterator[Metric]:
        from digests.models import Delivery, DeliveryEvent, Subscriber
        from digests.readers.outbox import transactional_emails_owed_count
        from newsletter.celery import QUEUES

        provider = mail_provider("bulk")
        by_status = deliveries_by_status()

        sent = CounterMetricFamily("newsletter_emails_sent", "Digest emails accepted by the mail provider.", labels=["provider"])
        sent.add_metric([provider], by_status.get(Delivery.Status.SENT, 0))
        yield sent
        failed = CounterMetricFamily(
            "newsletter_emails_failed", "Digest emails given up on after their last attempt.", labels=["provider"]
        )
        failed.add_metric([provider], by_status.get(Delivery.Status.FAILED, 0))
        yield failed

        deliveries = GaugeMetricFamily("newsletter_deliveries", "Delivery ledger rows by status.", labels=["provider", "status"])
        for status in Delivery.Status.values:
            deliveries.add_metric([provider, status], by_status.get(status, 0))
        yield deliveries

        events = CounterMetricFamily(
            "newsletter_webhook_events", "Provider and tracking events received, by type.", labels=["provider", "type"]
        )
        rows = DeliveryEvent.objects.values_list("provider", "event_type").annotate(n=Count("id")).order_by()
        for event_provider, event_type, count in rows:
            events.add_metric([event_provider, event_type], count)
        yield events

        subscribers = GaugeMetricFamily("newsletter_subscribers", "Subscribers by status.", labels=["status"])
        by_reader_status = dict(Subscriber.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status in Subscriber.Status.values:
            subscribers.add_metric([status], by_reader_status.get(status, 0))
        yield subscribers

        owed = GaugeMetricFamily(
            "newsletter_transactional_emails_owed",
            "Transactional emails (confirmations) owed for over a minute and not yet accepted by the mail server.",
        )
        owed.add_metric([], transactional_emails_owed_count())
        yield owed

        try:
            depths = queue_depths(QUEUES)
        except Exception as exc:  # a scrape still reports the database numbers when Redis is down
            logger.warning("metrics: queue depth unavailable: %s: %s", type(exc).__name__, exc)
            depths = None
        if depths is not None:
            queue = GaugeMetricFamily("newsletter_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"])
            for name, depth in depths.items():
                queue.add_metric([name], depth)
            yield queue


METRICS_CACHE_KEY = "ops:metrics-exposition"


def metrics_exposition() -> bytes:
    """The current metrics in Prometheus text format, at most METRICS_CACHE_SECONDS old."""
    from digests.readers.shared_cache import shared_cache_call

    seconds = settings.METRICS_CACHE_SECONDS
    if seconds <= 0:
        return _exposition_computed()
    cached = shared_cache_call("metrics", lambda store: store.get(METRICS_CACHE_KEY))
    if cached is not None:
        return cached
    body = _exposition_computed()
    shared_cache_call("metrics", lambda store: store.set(METRICS_CACHE_KEY, body, timeout=seconds))
    return body


def _exposition_computed() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NewsletterCollector())
    return generate_latest(registry)


def metrics_access_allowed(*, remote_addr: str, authorization: str) -> bool:
    """True for a client in METRICS_ALLOWED_IPS, or one that presents ``Bearer METRICS_TOKEN``."""
    token = settings.METRICS_TOKEN
    presented = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
    if token and presented and hmac.compare_digest(presented.encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)
