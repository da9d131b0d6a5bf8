"""A burst of webhooks over real HTTP is absorbed: every request answered 200, every event stored once."""

import json

import pytest
from django.db import connection

from digests.bench.webhooks import bench_cleanup, bench_fixture, bench_payloads, postmark_path, webhooks_fire
from digests.models import DeliveryEvent
from tests.helpers.webhooks import SECRETS


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_500_webhook_requests_is_absorbed_without_errors_or_duplicates(live_server, webhook_settings, eager_celery):
    digest = bench_fixture(readers=50)
    deliveries = list(digest.deliveries.select_related("subscriber").order_by("pk"))
    unique = bench_payloads(deliveries, 400)
    # A quarter of the traffic is providers retrying events we already have.
    bodies = unique + unique[::4]
    # SQLite's in-memory test database is one shared connection: one client at a time there.
    threads = 4 if connection.vendor == "postgresql" else 1

    result = webhooks_fire(live_server.url + postmark_path(), bodies, threads=threads, basic_auth=SECRETS[1])

    assert result.requests == 500
    assert (result.errors, result.failures) == (0, [])
    assert DeliveryEvent.objects.count() == 400
    bounced = [json.loads(b) for b in unique if json.loads(b)["RecordType"] == "Bounce"]
    assert DeliveryEvent.objects.filter(event_type="bounced", bounce_type="soft").count() == len(bounced)
    bench_cleanup()
    assert DeliveryEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_burst_without_credentials_is_refused_and_stores_nothing(live_server, webhook_settings):
    digest = bench_fixture(readers=5)
    bodies = bench_payloads(list(digest.deliveries.select_related("subscriber")), 20)
    result = webhooks_fire(live_server.url + postmark_path(), bodies, threads=1, basic_auth="webhook:guess")
    assert result.statuses == {400: 20}
    assert DeliveryEvent.objects.count() == 0
