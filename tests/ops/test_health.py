"""/healthz tells a load balancer or monitor whether the database, broker and beat work."""

import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from digests.ops.health import BEAT_TICK_KEY, beat_status, health_report
from tests.helpers.paths import ROOT


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_a_working_stack_answers_200_with_every_check_ok(client):
    cache.set(BEAT_TICK_KEY, timezone.now().isoformat(), timeout=None)

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert (body["database"], body["broker"], body["cache"], body["beat"]) == ("ok", "ok", "ok", "ok")
    assert body["healthy"] is True
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_healthz_reuses_one_broker_connection_instead_of_opening_one_per_request(client, settings):
    import redis

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the broker is not Redis")
    server = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def healthz_connections() -> set[int]:
        return {c["id"] for c in server.client_list() if c.get("name") == f"healthz-{os.getpid()}"}

    client.get("/healthz")
    first = healthz_connections()
    for _ in range(20):
        assert client.get("/healthz").json()["broker"] == "ok"
    assert len(first) == 1 and healthz_connections() == first


@pytest.mark.django_db
def test_a_fresh_stack_whose_beat_has_not_ticked_yet_is_healthy_but_says_unknown(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["beat"] == "unknown"
    assert response.json()["beat_last_tick"] is None


@pytest.mark.django_db
def test_a_beat_tick_older_than_three_minutes_is_stale_and_answers_503(client):
    cache.set(BEAT_TICK_KEY, (timezone.now() - timedelta(minutes=4)).isoformat(), timeout=None)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["beat"] == "stale"


def test_beat_is_ok_up_to_three_minutes_after_the_last_tick():
    now = timezone.now()
    assert beat_status(now - timedelta(minutes=3), now=now) == "ok"
    assert beat_status(now - timedelta(minutes=3, seconds=1), now=now) == "stale"
    assert beat_status(None, now=now) == "unknown"


@pytest.mark.django_db
def test_an_unreachable_broker_answers_503_without_revealing_its_address(client, settings):
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"] == "error"
    assert str(port) not in response.content.decode()


@pytest.mark.django_db
def test_a_development_broker_is_named_in_the_report(settings):
    settings.CELERY_BROKER_URL = "filesystem://"

    report = health_report()

    assert report["broker_transport"] == "filesystem"
    assert any("filesystem://" in note and "development" in note for note in report["notes"])


@pytest.mark.django_db
def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


def test_the_healthcheck_command_exits_1_when_the_database_is_unreachable(tmp_path):
    env = {**os.environ, "VAR_DIR": str(tmp_path), "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port()}/nowhere"}
    result = subprocess.run(
        [sys.executable, "manage.py", "healthcheck"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["database"] == "error" and report["healthy"] is False
    assert "unhealthy: stack" in result.stderr


def test_the_healthcheck_command_can_judge_one_component(tmp_path):
    env = {**os.environ, "VAR_DIR": str(tmp_path), "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port()}/nowhere"}
    result = subprocess.run(
        [sys.executable, "manage.py", "healthcheck", "--only=beat"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    # The database is down, but beat (never ticked in this fresh cache) is what was asked about.
    assert result.returncode == 0, result.stderr
    unknown = subprocess.run(
        [sys.executable, "manage.py", "healthcheck", "--only=bogus"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert unknown.returncode != 0 and "unknown component(s) bogus" in unknown.stderr


def database_url_for_a_subprocess(tmp_path) -> str:
    """The test database (PostgreSQL) or a scratch SQLite file: somewhere ``SELECT 1`` works."""
    from urllib.parse import urlsplit, urlunsplit

    from django.db import connection

    if connection.vendor == "postgresql":
        parts = urlsplit(os.environ["DATABASE_URL"])
        return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))
    return f"sqlite:///{tmp_path / 'probe.sqlite3'}"


def test_the_container_probe_passes_against_gunicorn_serving_the_wsgi_app(db, tmp_path):
    """What the web container's health check runs, against the web container's command."""
    port = closed_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_a_subprocess(tmp_path),
        "VAR_DIR": str(tmp_path),
        "DEBUG": "false",
        "SITE_URL": "https://news.example.com",
        "ALLOWED_HOSTS": "news.example.com",
        "SECRET_KEY": "probe-test-key-" + "k" * 20 + "0123456789",
        "PORT": str(port),
    }
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "newsletter.wsgi:application", f"--bind=127.0.0.1:{port}", "--workers=1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = None
        for _ in range(60):
            probe = subprocess.run(
                [sys.executable, "scripts/http_healthcheck.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
            )
            if probe.returncode == 0 or "web not answering" not in probe.stdout:
                break
            time.sleep(0.5)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert json.loads(probe.stdout)["healthy"] is True
