"""/metrics gives Prometheus the true, shared numbers, and only to internal clients."""

import ipaddress
import os
import subprocess
import sys

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from digests.models import Delivery, DeliveryEvent, Subscriber
from tests.helpers.paths import ROOT


def samples(response) -> dict[tuple[str, tuple], float]:
    parsed = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            parsed[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


@pytest.fixture
def ledger(seed_digest):
    """Five readers in various states, their deliveries and some provider events."""
    statuses = [Subscriber.Status.ACTIVE] * 3 + [Subscriber.Status.PENDING, Subscriber.Status.UNSUBSCRIBED]
    readers = [Subscriber.objects.create(email=f"reader{i}@example.org", status=s) for i, s in enumerate(statuses)]
    outcome = [Delivery.Status.SENT, Delivery.Status.SENT, Delivery.Status.FAILED]
    deliveries = [
        Delivery.objects.create(digest=seed_digest, subscriber=r, variant="1", not_before=timezone.now(), status=s)
        for r, s in zip(readers, outcome, strict=False)  # the first three readers get a delivery
    ]
    for kind in ["delivered", "delivered", "bounced"]:
        DeliveryEvent.objects.create(delivery=deliveries[0], provider="postmark", event_type=kind, occurred_at=timezone.now())
    return deliveries


def test_it_counts_emails_sent_and_failed_from_the_ledger(client, ledger, settings):
    settings.MAIL_CONNECTIONS = {
        **settings.MAIL_CONNECTIONS,
        "bulk": {"backend": "anymail.backends.postmark.EmailBackend", "provider": "postmark"},
    }

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    values = samples(response)
    assert values[("newsletter_emails_sent_total", (("provider", "postmark"),))] == 2
    assert values[("newsletter_emails_failed_total", (("provider", "postmark"),))] == 1
    assert values[("newsletter_deliveries", (("provider", "postmark"), ("status", "pending")))] == 0


def test_it_counts_webhook_events_by_type_and_subscribers_by_status(client, ledger):
    values = samples(client.get("/metrics"))

    assert values[("newsletter_webhook_events_total", (("provider", "postmark"), ("type", "delivered")))] == 2
    assert values[("newsletter_webhook_events_total", (("provider", "postmark"), ("type", "bounced")))] == 1
    assert values[("newsletter_subscribers", (("status", "active"),))] == 3
    assert values[("newsletter_subscribers", (("status", "pending"),))] == 1
    assert values[("newsletter_subscribers", (("status", "bounced"),))] == 0


def test_the_numbers_are_read_at_scrape_time_so_every_process_agrees(client, ledger, settings):
    settings.METRICS_CACHE_SECONDS = 0
    before = samples(client.get("/metrics"))[("newsletter_subscribers", (("status", "active"),))]
    Subscriber.objects.create(email="late@example.org", status=Subscriber.Status.ACTIVE)

    after = samples(client.get("/metrics"))[("newsletter_subscribers", (("status", "active"),))]

    assert after == before + 1


def test_scrapes_within_the_cache_window_share_one_computation_then_see_the_change(client, ledger, settings):
    from django.core.cache import cache

    from digests.ops.metrics import METRICS_CACHE_KEY

    settings.METRICS_CACHE_SECONDS = 60
    active = ("newsletter_subscribers", (("status", "active"),))
    first = samples(client.get("/metrics"))
    Subscriber.objects.create(email="late@example.org", status=Subscriber.Status.ACTIVE)

    assert samples(client.get("/metrics"))[active] == first[active]  # the shared copy, not counted again
    cache.delete(METRICS_CACHE_KEY)  # the window has passed
    assert samples(client.get("/metrics"))[active] == first[active] + 1


@pytest.mark.django_db
def test_it_reports_the_depth_of_each_celery_queue_on_redis(client, settings):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("queue depth is read from a Redis broker (set CELERY_BROKER_URL=redis://…)")
    import redis

    from newsletter.celery import QUEUES, app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete(*QUEUES)
    try:
        app.send_task("digests.tasks.sweep_stuck_deliveries", queue="housekeeping")
        app.send_task("digests.tasks.sweep_stuck_deliveries", queue="housekeeping", priority=9)
        app.send_task("digests.tasks.sweep_stuck_deliveries", queue="bulk")

        values = samples(client.get("/metrics"))
    finally:
        for name in QUEUES:
            broker.delete(name, *(f"{name}\x06\x16{step}" for step in (3, 6, 9)))

    assert values[("newsletter_queue_depth", (("queue", "housekeeping"),))] == 2
    assert values[("newsletter_queue_depth", (("queue", "bulk"),))] == 1
    assert values[("newsletter_queue_depth", (("queue", "transactional"),))] == 0


@pytest.mark.django_db
def test_without_a_redis_broker_queue_depth_is_left_out_rather_than_guessed(client, settings):
    settings.CELERY_BROKER_URL = "filesystem://"

    text = client.get("/metrics").content.decode()

    assert "newsletter_queue_depth" not in text
    assert "newsletter_subscribers" in text


@pytest.mark.django_db
def test_a_client_outside_the_allowed_networks_is_refused(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    assert b"newsletter_" not in response.content


@pytest.mark.django_db
def test_a_listed_private_network_is_allowed(client, settings):
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8")]

    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_the_bearer_token_lets_any_address_in_and_a_wrong_one_does_not(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"

    allowed = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer guess")
    unset = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ")

    assert (allowed.status_code, wrong.status_code, unset.status_code) == (200, 403, 403)


@pytest.mark.django_db
def test_an_empty_token_setting_never_matches_an_empty_bearer(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_a_malformed_allowed_network_stops_start_up_naming_the_variable(tmp_path):
    env = {**os.environ, "VAR_DIR": str(tmp_path), "METRICS_ALLOWED_IPS": "127.0.0.1/32,office-lan"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "METRICS_ALLOWED_IPS='office-lan' is invalid" in result.stderr
