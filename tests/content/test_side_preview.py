"""Spec: the saved draft's preview beside the change form, and a test copy to one's own address for editors too."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from digests.models import Delivery, Digest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def eager():
    from newsletter.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_the_change_page_shows_the_saved_draft_beside_the_form_with_a_variant_picker(editor_client, seed_digest):
    html = editor_client.get(reverse("admin:digests_digest_change", args=[seed_digest.pk])).content.decode()

    email_url = reverse("admin:digests_digest_preview_email", args=[seed_digest.pk])
    assert f'<iframe class="side-preview-frame" src="{email_url}" sandbox' in html
    assert "side-preview-phone" in html
    assert html.count('name="preview_categories"') == seed_digest.items.values("category").distinct().count()
    assert f'action="{reverse("admin:digests_digest_test_copy", args=[seed_digest.pk])}"' in html
    assert "Send a test copy to editor@example.com" in html


def test_an_editor_sends_a_test_copy_of_a_variant_to_their_own_address_and_returns_to_the_editor(
    editor_client, seed_digest, eager, django_capture_on_commit_callbacks
):
    change = reverse("admin:digests_digest_change", args=[seed_digest.pk])
    category = seed_digest.items.first().category

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            reverse("admin:digests_digest_test_copy", args=[seed_digest.pk]),
            {"categories": [category.pk], "language": "zh-hans", "next": change},
        )

    assert response.status_code == 302 and response["Location"] == change
    assert [m.to for m in mail.outbox] == [["editor@example.com"]]
    assert not Delivery.objects.exists()
    assert Digest.objects.get(pk=seed_digest.pk).status == Digest.Status.DRAFT


def test_editors_still_cannot_schedule_or_send(editor_client, seed_digest):
    sending = reverse("admin:digests_digest_sending", args=[seed_digest.pk])

    assert editor_client.post(sending + "schedule/", {"send_at": "2026-02-06T07:30"}).status_code == 403
    assert editor_client.post(sending + "send_now/").status_code == 403
    assert editor_client.post(sending + "test/", {"language": "zh-hans"}).status_code == 403


def test_a_test_copy_never_redirects_off_site(publisher_client, seed_digest, eager):
    response = publisher_client.post(
        reverse("admin:digests_digest_test_copy", args=[seed_digest.pk]),
        {"language": "zh-hans", "next": "https://evil.example.com/"},
    )

    assert response["Location"] == reverse("admin:digests_digest_sending", args=[seed_digest.pk])
