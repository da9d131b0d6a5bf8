"""Spec, in real Chromium, of the issue's "done when": an editor pastes the seed issue, previews it at phone width
and sends themselves a test copy; a publisher schedules it on the one path the dispatcher honours."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from digests.delivery.schedule import digests_dispatch_due
from digests.models import Delivery, Digest, Subscriber
from tests.helpers.digest_files import SEED_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager():
    from newsletter.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def editorial_group(name: str) -> Group:
    """The group the data migration made; a transactional test before this one may have flushed it."""
    from importlib import import_module

    from django.contrib.auth.models import Permission

    codenames = getattr(import_module("digests.migrations.0002_editorial_groups"), name.upper())
    group, _created = Group.objects.get_or_create(name=name)
    group.permissions.set(Permission.objects.filter(content_type__app_label="digests", codename__in=codenames))
    return group


def staff(django_user_model, name: str, group: str):
    user = django_user_model.objects.create_user(
        username=name, password=f"pw-{name}-123", is_staff=True, email=f"{name}@example.com"
    )
    user.groups.add(editorial_group(group))
    return user


def log_in(chromium, base: str, name: str):
    page = chromium.new_page(locale="en-US", viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(15_000)
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", name)
    page.fill("#id_password", f"pw-{name}-123")
    page.click("input[type=submit]")
    return page


def test_an_editor_pastes_previews_and_tests_then_a_publisher_schedules(
    chromium, live_server, django_user_model, settings, eager
):
    settings.LANGUAGE_CODE = "en"
    staff(django_user_model, "editor", "Editor")
    staff(django_user_model, "publisher", "Publisher")
    for i in range(3):
        Subscriber.objects.create(email=f"reader{i}@example.org", status="active")

    editor = log_in(chromium, live_server.url, "editor")
    editor.goto(f"{live_server.url}/admin/digests/digest/import/")
    editor.fill("textarea[name=text]", SEED_PATH.read_text("utf-8"))
    editor.click("input[type=submit].default")
    editor.wait_for_selector(".messagelist .success")
    digest = Digest.objects.get()
    editor.wait_for_load_state("load")  # the preview frame has rendered
    editor.click(".side-preview-phone")
    assert editor.locator(".side-preview-frame").evaluate("f => f.getBoundingClientRect().width") == 375
    # From the keyboard: just after the sandboxed (out-of-process) frame is resized, Chromium may route a
    # synthetic mouse click at the button below it to the frame.
    editor.focus("form.side-preview-test button[type=submit]")
    editor.keyboard.press("Enter")
    editor.wait_for_selector(".messagelist .success:has-text('A test copy is on its way to editor@example.com')")
    assert [m.to for m in mail.outbox] == [["editor@example.com"]]
    assert editor.locator(".sendinglink").count() == 0
    editor.close()

    publisher = log_in(chromium, live_server.url, "publisher")
    publisher.goto(f"{live_server.url}/admin/digests/digest/{digest.pk}/change/")
    publisher.click(".sendinglink")
    assert "Asia/Shanghai (UTC+08:00)" in publisher.locator("label[for=id_send_at]").inner_text()
    publisher.fill("#id_send_at", "2026-02-06T07:30")
    publisher.check("#id_allow_stale")
    publisher.click(".sending-schedule input[type=submit]")
    publisher.wait_for_selector(".messagelist .success:has-text('Scheduled for')")
    publisher.goto(f"{live_server.url}/admin/digests/digest/")
    shown = publisher.locator("td.field-send_progress").first.inner_text()
    publisher.close()

    assert shown == "2026-02-06 07:30 Asia/Shanghai (UTC+08:00)"
    at = datetime.datetime(2026, 2, 6, 7, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    assert digests_dispatch_due(now=at).started == [digest.pk]
    assert Delivery.objects.filter(digest=digest).count() == 3
