"""Publishers schedule, send, test, pause, resume and cancel from the admin; editors cannot."""

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail

from digests.models import Delivery, Digest, Subscriber

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def eager():
    """Tasks run in the test process."""
    from newsletter.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def readers(seed_digest):
    return [Subscriber.objects.create(email=f"r{i}@example.org", status="active") for i in range(3)]


def _url(digest, action=""):
    return f"/admin/digests/digest/{digest.pk}/sending/" + (f"{action}/" if action else "")


def test_editors_get_403_and_see_no_sending_page(editor_client, seed_digest):
    assert editor_client.get(_url(seed_digest)).status_code == 403
    assert editor_client.post(_url(seed_digest, "send_now")).status_code == 403
    assert editor_client.get(_url(seed_digest) + "progress.json").status_code == 403
    listing = editor_client.get("/admin/digests/digest/")
    assert _url(seed_digest).encode() not in listing.content


def test_a_publisher_schedules_with_the_default_morning_and_it_is_logged(publisher_client, seed_digest):
    page = publisher_client.get(_url(seed_digest))
    assert page.status_code == 200 and b"2026-02-06T07:30" in page.content
    response = publisher_client.post(_url(seed_digest, "schedule"), {"send_at": "2026-02-06T07:30"})
    assert response.status_code == 302
    digest = Digest.objects.get(pk=seed_digest.pk)
    assert digest.status == "scheduled" and digest.scheduled_at.isoformat() == "2026-02-05T23:30:00+00:00"
    assert LogEntry.objects.filter(object_id=str(digest.pk), change_message__startswith="Scheduled").exists()


def test_send_now_sends_and_shows_progress(publisher_client, seed_digest, readers, eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        publisher_client.post(_url(seed_digest, "send_now"), {"allow_stale": "1"})
    assert Digest.objects.get(pk=seed_digest.pk).status in ("sending", "sent")
    assert Delivery.objects.filter(digest=seed_digest).count() == 3
    progress = publisher_client.get(_url(seed_digest) + "progress.json").json()
    assert progress["audience"] == 3 and progress["sent"] == 3 and progress["percent"] == 100.0
    page = publisher_client.get(_url(seed_digest))
    assert b'id="p-sent">3<' in page.content
    listing = publisher_client.get("/admin/digests/digest/")
    assert b"<progress" in listing.content


def test_send_now_of_a_stale_issue_says_which_box_to_tick_and_the_page_has_it(publisher_client, seed_digest, readers):
    page = publisher_client.get(_url(seed_digest))
    assert page.content.count(b'name="allow_stale"') == 2  # the schedule form's and send now's
    response = publisher_client.post(_url(seed_digest, "send_now"), follow=True)
    shown = [str(message) for message in response.context["messages"]]
    assert any("DIGEST_STALE_AFTER_DAYS" in text and "Send even if the issue is stale" in text for text in shown), shown
    assert Digest.objects.get(pk=seed_digest.pk).status == "draft"


def test_pause_then_resume_then_cancel(publisher_client, seed_digest, readers):
    from digests.delivery.schedule import digest_start

    digest_start(seed_digest, immediate=True, allow_stale=True)
    publisher_client.post(_url(seed_digest, "pause"))
    assert Digest.objects.get(pk=seed_digest.pk).status == "paused"
    publisher_client.post(_url(seed_digest, "resume"))
    assert Digest.objects.get(pk=seed_digest.pk).status == "sending"
    publisher_client.post(_url(seed_digest, "cancel"))
    assert Digest.objects.get(pk=seed_digest.pk).status == "cancelled"
    assert set(Delivery.objects.filter(digest=seed_digest).values_list("status", flat=True)) == {"cancelled"}
    assert LogEntry.objects.filter(object_id=str(seed_digest.pk)).count() == 3


def test_a_test_copy_of_a_variant_goes_to_the_publishers_own_address(
    publisher_client, seed_digest, eager, django_capture_on_commit_callbacks
):
    category = seed_digest.items.first().category
    with django_capture_on_commit_callbacks(execute=True):
        publisher_client.post(_url(seed_digest, "test"), {"categories": [category.pk], "language": "zh-hans"})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["publisher@example.com"]
    assert "[" in message.subject
    assert not Delivery.objects.exists()


def test_the_digest_page_links_to_sending_only_for_publishers(client, editor, publisher, seed_digest):
    from django.urls import reverse

    change = reverse("admin:digests_digest_change", args=[seed_digest.pk])
    sending = reverse("admin:digests_digest_sending", args=[seed_digest.pk])
    client.force_login(publisher)
    assert sending in client.get(change).content.decode()
    client.force_login(editor)
    assert sending not in client.get(change).content.decode()
