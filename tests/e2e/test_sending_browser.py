"""Spec, in real Chromium: 立即发送 and 取消发送 ask first, naming the issue, the audience and the time."""

from __future__ import annotations

import pytest

from digests.content.digest_format import digest_parse
from digests.content.services import digest_import
from digests.delivery.schedule import digest_schedule
from digests.models import Digest, Subscriber
from tests.helpers.digest_files import SEED_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager():
    from newsletter.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def sending_page(chromium, live_server, django_user_model, settings):
    settings.LANGUAGE_CODE = "en"
    digest = digest_import(digest_parse(SEED_PATH.read_bytes()))
    Digest.objects.filter(pk=digest.pk).update(allow_stale=True)  # the seed issue is long past
    digest.refresh_from_db()
    for i in range(2):
        Subscriber.objects.create(email=f"reader{i}@example.org", status="active")
    django_user_model.objects.create_superuser(username="chief", password="pw-chief-123", email="chief@example.com")
    page = chromium.new_page(locale="en-US")
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "chief")
    page.fill("#id_password", "pw-chief-123")
    page.click("input[type=submit]")
    url = f"{live_server.url}/admin/digests/digest/{digest.pk}/sending/"
    yield page, digest, url
    page.close()


def answer_next_dialog(page, *, accept: bool) -> list[str]:
    seen: list[str] = []

    def handle(dialog):
        seen.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", handle)
    return seen


def test_send_now_asks_first_and_a_no_changes_nothing(sending_page, eager):
    page, digest, url = sending_page
    page.goto(url)

    seen = answer_next_dialog(page, accept=False)
    page.click(".sending-send-now input[type=submit]")
    page.wait_for_timeout(300)
    assert len(seen) == 1
    assert f"Send “{digest}” now to 2 readers?" in seen[0] and "Asia/Shanghai (UTC+08:00)" in seen[0]
    assert Digest.objects.get(pk=digest.pk).status == Digest.Status.DRAFT

    seen = answer_next_dialog(page, accept=True)
    page.click(".sending-send-now input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert Digest.objects.get(pk=digest.pk).status in (Digest.Status.SENDING, Digest.Status.SENT)


def test_cancelling_a_schedule_names_its_time_and_asks_first(sending_page):
    page, digest, url = sending_page
    digest_schedule(digest)
    page.goto(url)

    seen = answer_next_dialog(page, accept=False)
    page.click(".sending-cancel input[type=submit]")
    page.wait_for_timeout(300)
    assert seen == [f"Cancel “{digest}”, scheduled for 2026-02-06 07:30 Asia/Shanghai (UTC+08:00) to 2 readers?"]
    assert Digest.objects.get(pk=digest.pk).status == Digest.Status.SCHEDULED

    answer_next_dialog(page, accept=True)
    page.click(".sending-cancel input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert Digest.objects.get(pk=digest.pk).status == Digest.Status.CANCELLED
