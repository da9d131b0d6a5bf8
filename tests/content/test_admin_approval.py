"""What a Publisher approved stays as approved: scheduled, sending, paused and sent digests are read-only (issue 11.6).

To change a scheduled digest a Publisher returns it to draft (which unschedules it),
the Editor edits, and a Publisher schedules it again; the admin history names who did each step.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from digests.models import Digest, Item
from tests.helpers.digest_files import SEED_PATH

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

LOCKED = ["scheduled", "sending", "paused", "sent"]


def _set_status(digest: Digest, status: str) -> Digest:
    fields = {"status": status}
    if status == "scheduled":
        fields["scheduled_at"] = timezone.now() + datetime.timedelta(days=1)
    Digest.objects.filter(pk=digest.pk).update(**fields)
    return Digest.objects.get(pk=digest.pk)


def _change_form_post(client, digest: Digest, *, title: str):
    """POST the change form as the browser would, with every item as it is and a new digest title."""
    items = list(digest.items.order_by("category__position", "category_id", "position", "id"))
    data = {
        "issue_date": digest.issue_date.isoformat(),
        "title": title,
        "preheader": digest.preheader,
        "intro": digest.intro,
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": str(len(items)),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for n, item in enumerate(items):
        data.update(
            {
                f"items-{n}-id": str(item.pk),
                f"items-{n}-digest": str(digest.pk),
                f"items-{n}-category": str(item.category_id),
                f"items-{n}-position": str(item.position),
                f"items-{n}-title": "CHANGED " + item.title if n == 0 else item.title,
                f"items-{n}-summary": item.summary,
                f"items-{n}-background": item.background,
                f"items-{n}-key_points": "\n".join(item.key_points),
                f"items-{n}-source_name": item.source_name,
                f"items-{n}-source_url": item.source_url,
            }
        )
    return client.post(reverse("admin:digests_digest_change", args=[digest.pk]), data)


@pytest.mark.parametrize("status", LOCKED)
def test_an_editor_cannot_change_an_approved_digest_by_any_admin_path(editor_client, seed_digest, status):
    digest = _set_status(seed_digest, status)
    before = (digest.title, sorted(Item.objects.filter(digest=digest).values_list("title", flat=True)))

    page = editor_client.get(reverse("admin:digests_digest_change", args=[digest.pk]))
    assert page.status_code == 200 and b'name="title"' not in page.content  # shown read-only
    assert _change_form_post(editor_client, digest, title="Changed by an editor").status_code == 403
    replaced = editor_client.post(
        reverse("admin:digests_digest_import"),
        {
            "file": SimpleUploadedFile("d.md", SEED_PATH.read_bytes().replace("AI 行业动态".encode(), b"Replaced", 1)),
            "replace": "on",
        },
    )
    assert b"cannot be replaced" in replaced.content
    assert editor_client.post(reverse("admin:digests_digest_delete", args=[digest.pk]), {"post": "yes"}).status_code == 403

    digest.refresh_from_db()
    assert (digest.title, sorted(Item.objects.filter(digest=digest).values_list("title", flat=True))) == before
    assert digest.status == status


def test_a_scheduled_digest_is_read_only_to_a_publisher_too_until_returned_to_draft(publisher_client, seed_digest):
    digest = _set_status(seed_digest, "scheduled")
    assert _change_form_post(publisher_client, digest, title="Changed while scheduled").status_code == 403
    assert Digest.objects.get(pk=digest.pk).title == seed_digest.title


def test_return_to_draft_unschedules_then_the_editor_edits_and_a_publisher_approves_again(client, editor, publisher, seed_digest):
    digest = _set_status(seed_digest, "scheduled")
    sending = reverse("admin:digests_digest_sending", args=[digest.pk])

    client.force_login(editor)
    assert client.post(sending + "return_to_draft/").status_code == 403
    assert Digest.objects.get(pk=digest.pk).status == "scheduled"

    client.force_login(publisher)
    assert b"return_to_draft/" in client.get(sending).content
    assert client.post(sending + "return_to_draft/").status_code == 302
    digest.refresh_from_db()
    assert (digest.status, digest.scheduled_at) == ("draft", None)

    client.force_login(editor)
    assert _change_form_post(client, digest, title="Corrected by the editor").status_code == 302
    assert Digest.objects.get(pk=digest.pk).title == "Corrected by the editor"

    client.force_login(publisher)
    assert client.post(sending + "schedule/", {"send_at": "2026-02-06T07:30"}).status_code == 302
    assert Digest.objects.get(pk=digest.pk).status == "scheduled"

    history = [
        (entry.user.username, entry.get_change_message())
        for entry in LogEntry.objects.filter(object_id=str(digest.pk)).order_by("action_time", "pk")
    ]
    assert [who for who, _message in history] == ["publisher", "editor", "publisher"]
    assert history[0][1].startswith("Returned to draft")
    assert history[2][1].startswith("Scheduled for")


@pytest.mark.parametrize("status", ["sending", "paused", "sent"])
def test_a_digest_that_has_started_sending_cannot_be_returned_to_draft(publisher_client, seed_digest, status):
    digest = _set_status(seed_digest, status)
    sending = reverse("admin:digests_digest_sending", args=[digest.pk])
    assert b"return_to_draft/" not in publisher_client.get(sending).content
    publisher_client.post(sending + "return_to_draft/")
    assert Digest.objects.get(pk=digest.pk).status == status
