"""The fault drill, end to end at a small size: what `fault_drill` proves is what CI proves on every change."""

import os
import subprocess
import sys

from tests.helpers.paths import ROOT
from tests.helpers.services import needs_services

pytestmark = needs_services


def test_a_send_survives_a_killed_worker_a_database_and_a_redis_outage_and_smtp_refusals(django_db_setup, django_db_blocker):
    """One send through a SIGKILLed worker, pg_terminate_backend, Redis CLIENT KILL + PAUSE and SMTP 421/450/550:
    every reader gets exactly one message, refusals are recorded with their reason, deferred readers are
    delivered on retry, nothing stays pending and the send completes within 60 s of the last fault.

    The drill's quick pace: each fault shorter, the same faults and checks (the full one is `fault_drill`'s default).
    Its database is a copy of the suite's migrated test database (``--template``), not one migrated anew:
    PostgreSQL copies a database only while nobody is connected to it, so this process lets go of it first."""
    from django.conf import settings
    from django.db import connections

    with django_db_blocker.unblock():
        connections.close_all()
    drill = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "fault_drill",
            "--readers",
            "300",
            "--quick",
            "--template",
            settings.DATABASES["default"]["NAME"],
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert drill.returncode == 0, drill.stdout[-3000:] + drill.stderr[-3000:]
    assert "| Missing " in drill.stdout and "Every check passed." in drill.stdout
    assert "(a copy of test_" in drill.stdout


def test_the_drills_redis_fault_cuts_the_clients_of_its_own_databases_and_no_others(settings):
    """A site (or a second test process) using another database of the same Redis keeps its connections."""
    from urllib.parse import urlsplit

    import redis
    from redis.connection import parse_url

    from digests.bench.drill import _redis_kill_and_pause

    ours = {parse_url(url).get("db", 0) for url in (settings.CELERY_BROKER_URL, settings.CACHE_URL)}
    elsewhere = urlsplit(settings.CELERY_BROKER_URL)._replace(path=f"/{(max(ours) + 1) % 16}").geturl()
    broker_client, cache_client, other_client = (
        redis.Redis.from_url(url) for url in (settings.CELERY_BROKER_URL, settings.CACHE_URL, elsewhere)
    )

    def connection_id(client):
        try:
            return client.client_id()
        except redis.ConnectionError:  # cut: the next command reconnects
            return client.client_id()

    before = [connection_id(c) for c in (broker_client, cache_client, other_client)]
    killed = _redis_kill_and_pause(50)
    after = [connection_id(c) for c in (broker_client, cache_client, other_client)]

    assert killed >= 2
    assert after[0] != before[0] and after[1] != before[1], "the drill's own databases' clients are cut"
    assert after[2] == before[2], "a client of another database keeps its connection"
