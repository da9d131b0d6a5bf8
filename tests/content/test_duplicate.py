"""Spec: yesterday's issue becomes tomorrow's draft in one action, with or without its items."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from digests.content.services import DigestDateTaken, digest_duplicate, digest_transition
from digests.models import Digest
from digests.rendering.presend import digest_check
from tests.helpers.admin_forms import ordered_items

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def section_order(digest: Digest) -> list[str]:
    return list(dict.fromkeys(item.category.name for item in ordered_items(digest)))


def test_with_items_it_is_the_same_issue_dated_the_next_day_as_a_draft(seed_digest, editor):
    digest_transition(seed_digest, to=Digest.Status.SENDING)

    copy = digest_duplicate(digest=seed_digest, with_items=True, author=editor)

    assert copy.issue_date == datetime.date(2026, 2, 7) and copy.status == Digest.Status.DRAFT
    assert (copy.title, copy.author) == (seed_digest.title, editor)
    fields = ["category_id", "position", "title", "summary", "background", "key_points", "source_name", "source_url"]
    assert [[getattr(i, f) for f in fields] for i in ordered_items(copy)] == [
        [getattr(i, f) for f in fields] for i in ordered_items(seed_digest)
    ]
    assert seed_digest.items.count() == 14


def test_without_items_each_section_gets_one_empty_item_in_the_same_order(seed_digest):
    copy = digest_duplicate(digest=seed_digest)

    assert section_order(copy) == section_order(seed_digest)
    assert [(i.title, i.summary, i.key_points) for i in copy.items.all()] == [("", "", [])] * len(section_order(seed_digest))
    assert any(p.code == "no_source" and p.level == "error" for p in digest_check(copy))


def test_a_day_that_already_has_an_issue_is_refused(seed_digest):
    digest_duplicate(digest=seed_digest)

    with pytest.raises(DigestDateTaken):
        digest_duplicate(digest=seed_digest)
    assert Digest.objects.count() == 2


def test_editors_duplicate_from_the_digest_page(editor_client, seed_digest):
    page = editor_client.get(reverse("admin:digests_digest_change", args=[seed_digest.pk])).content.decode()
    url = reverse("admin:digests_digest_duplicate", args=[seed_digest.pk])
    assert url in page
    assert "Create the draft for 2026-02-07" in editor_client.get(url).content.decode()

    response = editor_client.post(url, {"with_items": "on"})

    copy = Digest.objects.get(issue_date="2026-02-07")
    assert response["Location"] == reverse("admin:digests_digest_change", args=[copy.pk])
    assert copy.items.count() == 14
    again = editor_client.post(url, {}, follow=True)
    assert "A digest for 2026-02-07 already exists; open it instead." in again.content.decode()


def test_a_sent_issue_can_still_be_duplicated(editor_client, seed_digest):
    digest_transition(seed_digest, to=Digest.Status.SENDING)
    digest_transition(seed_digest, to=Digest.Status.SENT)
    page = editor_client.get(reverse("admin:digests_digest_change", args=[seed_digest.pk])).content.decode()

    assert reverse("admin:digests_digest_duplicate", args=[seed_digest.pk]) in page
