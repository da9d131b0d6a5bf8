"""End to end with a real Celery worker: a hard-bounce webhook suppresses the reader off the request."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from digests.bench.webhooks import bench_cleanup, bench_fixture, postmark_path, webhooks_fire
from digests.models import Delivery, Digest, Subscriber
from tests.helpers.deliveries import make_delivery
from tests.helpers.paths import ROOT
from tests.helpers.webhooks import SECRETS, postmark_bounce


@pytest.fixture
def worker(transactional_db):
    if connection.vendor != "postgresql" or not django_settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs PostgreSQL and Redis (a worker process cannot share the in-memory test database)")
    db = django_settings.DATABASES["default"]
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL}
    celery = Path(sys.executable).with_name("celery")
    proc = subprocess.Popen(
        [str(celery), "-A", "newsletter", "worker", "-Q", "housekeeping", "--pool=solo", "--concurrency=1", "-l", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc
    proc.terminate()
    proc.wait(timeout=20)


def test_a_hard_bounce_webhook_is_processed_by_the_worker(worker, live_server, webhook_settings):
    digest = bench_fixture(readers=2)
    sent = digest.deliveries.select_related("subscriber").first()
    reader = sent.subscriber
    tomorrow = Digest.objects.create(issue_date="1970-01-02", title="next")
    pending = make_delivery(tomorrow, reader, status=Delivery.Status.PENDING)

    result = webhooks_fire(live_server.url + postmark_path(), [json.dumps(postmark_bounce(sent)).encode()], basic_auth=SECRETS[1])
    assert result.statuses == {200: 1}

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Subscriber.objects.get(pk=reader.pk).status != Subscriber.Status.BOUNCED:
        time.sleep(0.3)
    reader.refresh_from_db()
    pending.refresh_from_db()
    assert reader.status == Subscriber.Status.BOUNCED
    assert pending.status == Delivery.Status.SUPPRESSED
    tomorrow.delete()
    bench_cleanup()
