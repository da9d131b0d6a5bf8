"""Spec: one way to schedule. Whatever the admin shows as scheduled is what the real dispatcher sends.

The send time is chosen only on the sending page (``digest_schedule``); the
change form shows it read-only. These run on PostgreSQL with the dispatcher
beat calls every minute, ``digests_dispatch_due``.
"""

import datetime
import re
import zoneinfo

import pytest
from django.urls import reverse

from digests.content.services import digest_transition
from digests.delivery.schedule import digests_dispatch_due
from digests.models import Delivery, Digest, Subscriber
from tests.helpers.admin_forms import change_form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MORNING = datetime.datetime(2026, 2, 6, 7, 30, tzinfo=SHANGHAI)
LIST_URL = reverse("admin:digests_digest_changelist")


@pytest.fixture
def readers(db):
    return [Subscriber.objects.create(email=f"r{i}@example.org", status="active") for i in range(3)]


def shown_send_time(client, digest) -> str:
    """The text of the list's sending column in the digest's row."""
    html = client.get(LIST_URL).content.decode()
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*?/{digest.pk}/change/(?:(?!</tr>).)*</tr>", html, re.S).group(0)
    cell = re.search(r'<td class="field-send_progress">(.*?)</td>', row, re.S).group(1)
    return re.sub(r"<[^>]+>", "", cell).strip()


def sending_url(digest, action=""):
    return reverse("admin:digests_digest_sending", args=[digest.pk]) + (f"{action}/" if action else "")


def test_a_send_time_typed_into_the_change_form_is_not_taken_and_nothing_looks_scheduled(publisher_client, seed_digest, readers):
    data = change_form_data(seed_digest)
    data.update({"scheduled_at_0": "2026-02-06", "scheduled_at_1": "07:30:00", "allow_stale": "on"})

    response = publisher_client.post(reverse("admin:digests_digest_change", args=[seed_digest.pk]), data)

    assert response.status_code == 302
    digest = Digest.objects.get(pk=seed_digest.pk)
    assert digest.status == Digest.Status.DRAFT and digest.scheduled_at is None
    assert shown_send_time(publisher_client, digest) == "—"
    assert digests_dispatch_due(now=MORNING + datetime.timedelta(hours=1)).started == []
    assert not Delivery.objects.exists()


def test_what_the_list_shows_as_scheduled_is_what_the_dispatcher_sends(publisher_client, seed_digest, readers):
    publisher_client.post(sending_url(seed_digest, "schedule"), {"send_at": "2026-02-06T07:30"})

    assert shown_send_time(publisher_client, seed_digest) == "2026-02-06 07:30 Asia/Shanghai (UTC+08:00)"
    change_page = publisher_client.get(reverse("admin:digests_digest_change", args=[seed_digest.pk])).content.decode()
    assert "2026-02-06 07:30 Asia/Shanghai (UTC+08:00)" in change_page

    assert digests_dispatch_due(now=MORNING - datetime.timedelta(minutes=1)).started == []
    assert digests_dispatch_due(now=MORNING).started == [seed_digest.pk]
    assert Delivery.objects.filter(digest=seed_digest).count() == len(readers)


def test_a_digest_taken_back_to_draft_shows_no_send_time_and_is_not_sent(publisher_client, seed_digest, readers):
    publisher_client.post(sending_url(seed_digest, "schedule"), {"send_at": "2026-02-06T07:30"})
    digest_transition(Digest.objects.get(pk=seed_digest.pk), to=Digest.Status.DRAFT)

    assert shown_send_time(publisher_client, seed_digest) == "—"
    assert digests_dispatch_due(now=MORNING + datetime.timedelta(hours=1)).started == []


def test_every_digest_the_list_shows_with_a_time_is_started_by_the_dispatcher_at_that_time(
    publisher_client, seed_digest, readers
):
    from digests.content.digest_format import digest_parse
    from digests.content.services import digest_import
    from tests.helpers.digest_files import SEED_PATH

    later = digest_import(digest_parse(SEED_PATH.read_text("utf-8").replace("2026-02-06", "2026-02-07")))
    draft = digest_import(digest_parse(SEED_PATH.read_text("utf-8").replace("2026-02-06", "2026-02-08")))
    publisher_client.post(sending_url(seed_digest, "schedule"), {"send_at": "2026-02-06T07:30"})
    publisher_client.post(sending_url(later, "schedule"), {"send_at": "2026-02-07T09:15"})

    shown = {d.pk: shown_send_time(publisher_client, d) for d in (seed_digest, later, draft)}
    assert shown[draft.pk] == "—"
    for pk, label in shown.items():
        if label == "—":
            continue
        at = datetime.datetime.strptime(label.split(" Asia/")[0], "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
        assert digests_dispatch_due(now=at - datetime.timedelta(minutes=1)).started == []
        assert digests_dispatch_due(now=at).started == [pk]
    assert Digest.objects.get(pk=draft.pk).status == Digest.Status.DRAFT


def test_every_time_on_the_digest_page_names_its_zone(publisher_client, seed_digest, readers):
    from digests.delivery.schedule import digest_start

    digest_start(seed_digest, immediate=True, allow_stale=True)

    html = publisher_client.get(reverse("admin:digests_digest_change", args=[seed_digest.pk])).content.decode()
    times = re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?[^<]{0,40}", html)
    assert times and all("Asia/Shanghai (UTC+08:00)" in t for t in times)
    assert "CST" not in html
