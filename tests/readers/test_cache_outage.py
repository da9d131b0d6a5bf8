"""A cache outage weakens rate limits and click de-duplication but never breaks signup or a click."""

import logging

import pytest
from django.core import mail
from django.urls import reverse

from digests.links import click_token
from digests.models import DeliveryEvent, Subscriber

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "cache_down")]


def _warnings(caplog):
    return [r for r in caplog.records if r.name == "digests.readers.shared_cache" and r.levelno == logging.WARNING]


def test_signup_works_without_the_cache_and_the_outage_is_logged_once(client, on_commit, categories, caplog):
    for n in range(3):
        response = on_commit(
            client.post,
            "/subscribe/",
            {"email": f"r{n}@example.com", "categories": [categories[0].pk]},
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    assert Subscriber.objects.filter(status="pending").count() == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["r0@example.com", "r1@example.com", "r2@example.com"]
    assert len(_warnings(caplog)) == 1 and "signup rate limits" in _warnings(caplog)[0].getMessage()


def test_rate_limits_fall_back_to_this_process_rather_than_open_wide(client, categories, settings):
    settings.SIGNUP_RATE_PER_IP = "2/h"
    codes = [
        client.post("/subscribe/", {"email": f"s{n}@example.com", "categories": [categories[0].pk]}).status_code for n in range(3)
    ]
    assert codes == [200, 200, 429]


def test_a_tracked_click_redirects_without_the_cache_and_repeats_still_count_once(client, seed_digest, settings, caplog):
    settings.TRACK_CLICKS = True
    item = seed_digest.items.exclude(source_url="").first()
    url = reverse("digests:click", args=[click_token(seed_digest.pk, item.pk)])
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == item.source_url
    assert DeliveryEvent.objects.filter(event_type="clicked", item=item).count() == 1
    assert len(_warnings(caplog)) == 1


def test_healthz_shows_the_cache_down_and_what_is_degraded(client, categories):
    client.post("/subscribe/", {"email": "h@example.com", "categories": [categories[0].pk]})
    report = client.get("/healthz").json()
    assert report["cache"] == "error" and report["healthy"] is False
    assert report["degraded"]["rate_limits"] == "per-process memory"
    assert report["degraded"]["click_deduplication"] == "per-process memory"
    assert report["degraded"]["last_fallback"] is not None
