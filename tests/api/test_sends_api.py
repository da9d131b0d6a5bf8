"""Sends over HTTP: schedule (optional time), cancel, pause, resume with sends:write; status and stats figures."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.management import call_command

from digests.delivery.schedule import default_send_time, digest_start
from digests.feedback.statistics import digest_stats
from digests.models import Digest, Item
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db(transaction=True)


def _status(digest):
    return Digest.objects.values_list("status", flat=True).get(pk=digest.pk)


def test_schedule_defaults_to_the_send_time_on_the_issue_date_and_takes_another(api, seed_digest):
    answer = api.post("digests/2026-02-06/schedule")
    assert answer.status_code == 200 and answer.json()["status"] == "scheduled"
    assert datetime.datetime.fromisoformat(answer.json()["scheduled_at"]) == default_send_time(seed_digest)

    moved = api.post("digests/2026-02-06/schedule", json={"at": "2026-02-06T09:15:00+08:00"})
    assert moved.status_code == 200
    assert Digest.objects.get().scheduled_at == datetime.datetime.fromisoformat("2026-02-06T09:15:00+08:00")
    assert api.post("digests/2026-02-06/schedule", json={"at": "tomorrow"}).status_code == 400


def test_a_digest_with_blocking_problems_is_not_scheduled(api, seed_digest):
    Item.objects.filter(digest=seed_digest).update(source_url="")
    answer = api.post("digests/2026-02-06/schedule")
    assert answer.status_code == 409 and "来源链接" in answer.json()["detail"]  # the pre-send check's own words
    assert _status(seed_digest) == "draft"


def test_cancel_pause_and_resume_follow_the_life_cycle(api, seed_digest, settings):
    make_reader("reader@example.com")
    settings.DIGEST_STALE_AFTER_DAYS = 100000
    assert api.post("digests/2026-02-06/pause").status_code == 409  # a draft is not sending

    digest_start(seed_digest, immediate=True)
    assert api.post("digests/2026-02-06/pause").json()["status"] == "paused"
    assert api.post("digests/2026-02-06/pause").status_code == 409
    assert api.post("digests/2026-02-06/resume").json()["status"] == "sending"
    assert api.post("digests/2026-02-06/cancel").json()["status"] == "cancelled"
    assert api.post("digests/2026-02-06/resume").status_code == 409


def test_send_actions_need_sends_write(api, make_key, seed_digest):
    editor = make_key("digests:read", "digests:write")
    for action in ("schedule", "cancel", "pause", "resume"):
        assert api.post(f"digests/2026-02-06/{action}", key=editor).status_code == 403
    assert api.post("digests/2026-02-07/schedule").status_code == 404


def test_status_gives_the_figures_of_send_status(api, seed_digest):
    out = io.StringIO()
    call_command("send_status", "2026-02-06", "--json", stdout=out)
    command = json.loads(out.getvalue())
    answer = api.get("digests/2026-02-06/status").json()
    assert {k: answer[k] for k in ("status", "audience", "sent", "failed", "pending")} == {
        k: command[k] for k in ("status", "audience", "sent", "failed", "pending")
    }


def test_stats_gives_the_figures_of_digest_stats(api, seed_digest):
    stats = digest_stats(seed_digest)
    answer = api.get("digests/2026-02-06/stats").json()
    assert (answer["audience"], answer["sent"], answer["delivered"], answer["unique_clicks"]) == (
        stats.audience,
        stats.sent,
        stats.delivered,
        stats.unique_clicks,
    )
    assert "rates_percent" in answer
