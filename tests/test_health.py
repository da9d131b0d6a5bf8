"""/healthz tells a load balancer or monitor whether the database, broker and beat work."""

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone

from digests.ops.health import beat_status, health_report
from digests.tasks import BEAT_TICK_KEY

ROOT = Path(__file__).resolve().parents[1]


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
