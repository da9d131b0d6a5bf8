"""The autopilot: off leaves a draft, review waits for a Publisher's approval, on sends unless the checks fail."""

from __future__ import annotations

import datetime
import io

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from digests.delivery.autopilot import digests_hold_unapproved
from digests.delivery.schedule import default_send_time, digests_dispatch_due
from digests.models import Digest
from tests.api.test_digests_api import JSON_DIGEST
from tests.helpers.digest_files import SEED_PATH
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db(transaction=True)

MARKDOWN = {"Content-Type": "text/markdown"}


@pytest.fixture
def publisher_user(django_user_model):
    user = django_user_model.objects.create_user(
        username="publisher", password="pw", email="publisher@example.com", is_staff=True
    )
    from django.contrib.auth.models import Permission

    group, _ = Group.objects.get_or_create(name="Publisher")
    group.permissions.set(Permission.objects.filter(codename__in=["view_digest", "change_digest", "send_digest"]))
    user.groups.add(group)
    return user


@pytest.fixture
def stale_ok(settings):
    settings.DIGEST_STALE_AFTER_DAYS = 100000


def _publish(api, **kwargs):
    answer = api.post("digests/", data=SEED_PATH.read_bytes(), headers=MARKDOWN, **kwargs)
    assert answer.status_code == 201, answer.text
    return answer.json(), Digest.objects.get(issue_date="2026-02-06")


def test_off_leaves_the_digest_a_draft(api, settings):
    settings.DIGEST_AUTOPILOT = "off"
    body, digest = _publish(api)
    assert (body["status"], body["autopilot"], digest.scheduled_at) == ("draft", "", None)


def test_on_schedules_for_the_send_time_on_the_issue_date(api, settings, stale_ok):
    settings.DIGEST_AUTOPILOT = "on"
    body, digest = _publish(api)
    assert (body["status"], body["autopilot"]) == ("scheduled", "automatic")
    assert digest.scheduled_at == default_send_time(digest)


def test_on_holds_a_digest_whose_checks_report_an_error(api, settings, receiver, eager_celery, publisher_user):
    settings.DIGEST_AUTOPILOT = "on"
    no_source = {**JSON_DIGEST, "categories": [{"name": "产品", "items": [{"title": "无来源", "summary": "说明。"}]}]}

    answer = api.post("digests/", json=no_source)

    assert answer.status_code == 201
    assert (answer.json()["status"], answer.json()["autopilot"]) == ("draft", "held")
    assert receiver.types()[-3:] == ["digest.created", "digest.checks_failed", "digest.held"]
    assert receiver.of_type("digest.checks_failed")[0]["data"]["problems"][0]["code"] == "no_source"
    assert [m.to for m in mail.outbox] == [[publisher_user.email]] and "Held" in mail.outbox[0].subject


def test_review_waits_for_a_publishers_approval_before_sending(api, settings, client, publisher_user, stale_ok):
    settings.DIGEST_AUTOPILOT = "review"
    settings.DIGEST_APPROVAL_CUTOFF = 60
    body, digest = _publish(api)
    make_reader("reader@example.com")
    assert (body["status"], body["autopilot"]) == ("scheduled", "awaiting_approval")
    deadline = datetime.datetime.fromisoformat(body["approval_deadline"])
    assert deadline == digest.scheduled_at - datetime.timedelta(minutes=60)
    assert api.get("digests/").json()["results"][0]["approval_deadline"] == body["approval_deadline"]

    before_deadline = deadline - datetime.timedelta(minutes=5)
    assert digests_hold_unapproved(now=before_deadline) == []
    assert digests_dispatch_due(now=digest.scheduled_at + datetime.timedelta(minutes=1)).started == []  # not approved

    client.force_login(publisher_user)
    listing = client.get(reverse("admin:digests_digest_changelist")).content.decode()
    assert "Awaiting approval" in listing or "等待审批" in listing
    client.post(reverse("admin:digests_digest_changelist"), {"action": "approve_for_autopilot", "_selected_action": [digest.pk]})

    digest.refresh_from_db()
    assert (digest.autopilot, digest.approved_by) == ("approved", publisher_user)
    assert digests_dispatch_due(now=digest.scheduled_at + datetime.timedelta(minutes=1)).started == [digest.pk]


def test_review_holds_a_digest_not_approved_by_the_deadline(api, settings, receiver, eager_celery, publisher_user):
    settings.DIGEST_AUTOPILOT = "review"
    _, digest = _publish(api)

    held = digests_hold_unapproved(now=digest.scheduled_at - datetime.timedelta(minutes=settings.DIGEST_APPROVAL_CUTOFF - 1))

    digest.refresh_from_db()
    assert held == [digest.pk] and (digest.status, digest.autopilot) == ("draft", "held")
    assert "not approved" in digest.autopilot_note
    assert receiver.types()[-1] == "digest.held"
    assert [m.to for m in mail.outbox] == [[publisher_user.email]]


def test_only_a_publisher_may_approve(api, settings, client, django_user_model):
    settings.DIGEST_AUTOPILOT = "review"
    _, digest = _publish(api)
    editor = django_user_model.objects.create_user(username="ed", password="pw", is_staff=True, is_superuser=False)
    from django.contrib.auth.models import Permission

    editor.user_permissions.set(Permission.objects.filter(codename__in=["view_digest", "change_digest"]))
    client.force_login(editor)
    client.post(reverse("admin:digests_digest_changelist"), {"action": "approve_for_autopilot", "_selected_action": [digest.pk]})
    digest.refresh_from_db()
    assert digest.autopilot == "awaiting_approval"


def test_import_digest_schedule_hands_the_file_to_the_autopilot(settings, stale_ok, english):
    settings.DIGEST_AUTOPILOT = "review"
    out = io.StringIO()
    call_command("import_digest", str(SEED_PATH), "--schedule", stdout=out)
    digest = Digest.objects.get()
    assert (digest.status, digest.autopilot) == ("scheduled", "awaiting_approval")
    assert "autopilot: Awaiting approval, send at 2026-02-06 07:30" in out.getvalue()


@pytest.mark.parametrize(
    "variable, value", [("DIGEST_AUTOPILOT", "sometimes"), ("DIGEST_APPROVAL_CUTOFF", "-5"), ("API_RATE_LIMIT", "fast")]
)
def test_a_bad_automation_setting_stops_the_start_naming_the_variable(variable, value):
    import os
    import subprocess
    import sys

    from tests.helpers.paths import ROOT

    env = {**os.environ, variable: value}
    result = subprocess.run(
        [sys.executable, "-c", "import newsletter.settings"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and variable in result.stderr
