"""send_digest and send_status from a terminal."""

import io

import pytest
from django.core.management import CommandError, call_command

from digests.models import Delivery, Digest, Subscriber

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_send_digest_schedules_for_the_issue_morning_by_default(seed_digest, capsys):
    call_command("send_digest", "2026-02-06")
    digest = Digest.objects.get(pk=seed_digest.pk)
    assert digest.status == "scheduled"
    assert "2026-02-06T07:30:00+08:00" in capsys.readouterr().out


def test_send_digest_now_refuses_a_stale_issue_unless_allowed(seed_digest, capsys):
    Subscriber.objects.create(email="a@example.org", status="active")
    with pytest.raises(CommandError, match="days old"):
        call_command("send_digest", "2026-02-06", "--now")
    call_command("send_digest", str(seed_digest.pk), "--now", "--allow-stale")
    assert Digest.objects.get(pk=seed_digest.pk).status == "sending"
    assert Delivery.objects.filter(digest=seed_digest).count() == 1


def test_a_stale_refusal_names_the_flag_and_the_setting_that_change_it(seed_digest, settings):
    settings.DIGEST_STALE_AFTER_DAYS = 2
    with pytest.raises(CommandError) as refused:
        call_command("send_digest", "2026-02-06", "--now")
    message = str(refused.value)
    assert "--allow-stale" in message and "DIGEST_STALE_AFTER_DAYS (2)" in message
    assert Digest.objects.get(pk=seed_digest.pk).status == "draft"


def test_scheduling_an_issue_too_old_to_start_warns_and_names_the_flag(seed_digest, settings):
    settings.DIGEST_STALE_AFTER_DAYS = 2
    err = io.StringIO()
    call_command("send_digest", "2026-02-06", stdout=io.StringIO(), stderr=err)
    assert "will not start" in err.getvalue()
    assert "--allow-stale" in err.getvalue() and "DIGEST_STALE_AFTER_DAYS (2)" in err.getvalue()
    Digest.objects.filter(pk=seed_digest.pk).update(status="draft")
    err = io.StringIO()
    call_command("send_digest", "2026-02-06", "--allow-stale", stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == ""


def test_send_status_prints_the_counts_and_failures(seed_digest, capsys):
    from digests.delivery.schedule import digest_start

    Subscriber.objects.create(email="a@example.org", status="active")
    digest_start(seed_digest, immediate=True, allow_stale=True)
    Delivery.objects.update(status="failed", last_error="550 no such user")
    call_command("send_status", "2026-02-06")
    out = capsys.readouterr().out
    assert "audience 1" in out and "failed 1" in out and "550 no such user" in out


def test_an_unknown_digest_is_a_clear_error():
    with pytest.raises(CommandError, match="neither a date"):
        call_command("send_status", "yesterday")
