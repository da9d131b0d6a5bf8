"""Fixtures for the feedback tests (webhooks, suppression, clicks, statistics): webhook settings and a seeded send."""

from __future__ import annotations

import datetime
import json

import pytest

from digests.models import Delivery, Digest
from tests.helpers.deliveries import make_delivery
from tests.helpers.readers import make_reader
from tests.helpers.webhooks import MAILGUN_KEY, SECRETS, basic_auth, webhook_routes


@pytest.fixture
def webhook_settings(settings):
    """Postmark and Mailgun configured: their tracking webhooks are mounted, with a secret and a signing key."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": list(SECRETS), "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    with webhook_routes("mailgun", "postmark"):
        yield settings


@pytest.fixture
def eager_propagates():
    """Tasks run by ``eager_celery`` keep their errors in their result here (the worker itself is exercised in test_worker)."""
    return False


@pytest.fixture
def post_webhook(client, webhook_settings, eager_celery, django_capture_on_commit_callbacks):
    """POST a payload to a tracking webhook and run what it queued on commit; returns the response."""

    def post(url: str, payload: dict, *, auth: dict | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                url, data=json.dumps(payload), content_type="application/json", **(basic_auth() if auth is None else auth)
            )

    return post


@pytest.fixture
def next_digest(db):
    """Tomorrow's digest, with nothing sent yet."""
    return Digest.objects.create(issue_date=datetime.date(2026, 2, 7), title="AI 行业动态", status=Digest.Status.SENDING)


@pytest.fixture
def sent(seed_digest, next_digest):
    """Three readers who got the seed digest, each with a delivery of tomorrow's digest still pending."""
    readers = [make_reader(f"reader{i}@example.com", life_cycle=False) for i in range(3)]
    deliveries = [make_delivery(seed_digest, r) for r in readers]
    pending = [make_delivery(next_digest, r, status=Delivery.Status.PENDING) for r in readers]
    return {"digest": seed_digest, "readers": readers, "deliveries": deliveries, "pending": pending}
