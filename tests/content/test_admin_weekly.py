"""Spec: editors build the weekly edition from the digest list, then adjust it like any daily; they mark
a daily's items "highlight of the week" in its item list."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from digests.content.services import digest_duplicate
from digests.content.weekly import weekly_build
from digests.models import Digest, Item
from tests.helpers.admin_forms import change_form_data, ordered_items
from tests.helpers.html import parse_html

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

BUILD_URL = "/admin/digests/digest/build-weekly/"


def _sent(digest: Digest) -> Digest:
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.SENT, send_finished_at=timezone.now())
    return Digest.objects.get(pk=digest.pk)


@pytest.fixture
def sent_week(seed_digest):
    _sent(seed_digest)
    return _sent(digest_duplicate(digest=seed_digest, with_items=True))


def test_the_digest_list_offers_the_build_and_marks_weeklies_with_their_days(editor_client, sent_week):
    weekly_build(datetime.date(2026, 2, 8))

    page = editor_client.get(reverse("admin:digests_digest_changelist")).content.decode()

    assert BUILD_URL in page and "Build weekly edition" in page
    rows = {" ".join(tr.text_content().split()) for tr in parse_html(page).xpath("//table[@id='result_list']/tbody/tr")}
    assert any("Weekly 2026-02-02 – 2026-02-08" in row for row in rows)
    assert sum("Daily" in row for row in rows) == 2
    weeklies = editor_client.get(reverse("admin:digests_digest_changelist") + "?edition__exact=weekly").content.decode()
    assert len(parse_html(weeklies).xpath("//table[@id='result_list']/tbody/tr")) == 1


def test_the_build_page_proposes_the_latest_sent_daily_and_builds_the_draft(editor_client, editor, sent_week):
    page = parse_html(editor_client.get(BUILD_URL).content.decode())
    assert page.xpath("//input[@name='end_date']/@value") == ["2026-02-07"]
    assert page.xpath("//input[@name='csrfmiddlewaretoken']")

    response = editor_client.post(BUILD_URL, {"end_date": "2026-02-08"})

    weekly = Digest.objects.get(edition=Digest.Edition.WEEKLY)
    assert response.status_code == 302 and response["Location"] == reverse("admin:digests_digest_change", args=[weekly.pk])
    assert (weekly.period_start, weekly.issue_date, weekly.author) == (
        datetime.date(2026, 2, 2),
        datetime.date(2026, 2, 8),
        editor,
    )
    messages = editor_client.get(response["Location"]).content.decode()
    assert "Built the weekly edition" in messages


def test_building_a_week_twice_is_refused_on_the_page_and_replace_rebuilds(editor_client, sent_week):
    editor_client.post(BUILD_URL, {"end_date": "2026-02-08"})
    weekly = Digest.objects.get(edition=Digest.Edition.WEEKLY)
    weekly.items.filter(pk=ordered_items(weekly)[0].pk).delete()

    refused = editor_client.post(BUILD_URL, {"end_date": "2026-02-08"})
    assert refused.status_code == 200 and "already exists" in refused.content.decode()

    rebuilt = editor_client.post(BUILD_URL, {"end_date": "2026-02-08", "replace": "on"})
    assert rebuilt.status_code == 302
    assert Digest.objects.filter(edition=Digest.Edition.WEEKLY).count() == 1
    assert weekly.items.count() == len(ordered_items(weekly_build(datetime.date(2026, 2, 8), replace=True)))


def test_a_week_without_sent_dailies_is_refused_saying_so(editor_client, seed_digest):
    response = editor_client.post(BUILD_URL, {"end_date": "2026-02-08"})
    assert response.status_code == 200
    assert "No daily digest was sent between 2026-02-02 and 2026-02-08" in response.content.decode()


def test_only_staff_who_may_add_digests_build(client, django_user_model, sent_week):
    viewer = django_user_model.objects.create_user(username="viewer", password="pw", is_staff=True)
    client.force_login(viewer)
    assert client.get(BUILD_URL).status_code == 403
    assert client.post(BUILD_URL, {"end_date": "2026-02-08"}).status_code == 403
    assert not Digest.objects.filter(edition=Digest.Edition.WEEKLY).exists()


def test_the_build_form_is_csrf_protected(editor, sent_week):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)
    assert strict.post(BUILD_URL, {"end_date": "2026-02-08"}).status_code == 403


def test_editors_reorder_cut_and_introduce_the_weekly_like_a_daily(editor_client, sent_week):
    weekly = weekly_build(datetime.date(2026, 2, 8))
    items = ordered_items(weekly)
    page = editor_client.get(reverse("admin:digests_digest_change", args=[weekly.pk])).content.decode()
    assert "Weekly 2026-02-02 – 2026-02-08" in " ".join(parse_html(page).text_content().split())
    first, second = [item for item in items if item.category_id == items[0].category_id][:2]
    data = change_form_data(
        weekly,
        **{str(first.pk): {"position": 1}, str(second.pk): {"position": 0}, str(items[-1].pk): {"DELETE": "on"}},
    )
    data["intro"] = "这一周，AI 立法与大模型并进。"
    data.pop("issue_date")

    response = editor_client.post(reverse("admin:digests_digest_change", args=[weekly.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    weekly.refresh_from_db()
    assert weekly.intro == "这一周，AI 立法与大模型并进。" and weekly.edition == Digest.Edition.WEEKLY
    assert weekly.issue_date == datetime.date(2026, 2, 8)
    after = ordered_items(weekly)
    assert [i.pk for i in after[:2]] == [second.pk, first.pk] and len(after) == len(items) - 1
    preview = editor_client.get(reverse("admin:digests_digest_preview", args=[weekly.pk]))
    assert preview.status_code == 200 and "AI 行业动态 Weekly 2/2–2/8｜" in preview.content.decode()


def test_the_highlight_checkbox_is_on_a_dailys_items_not_on_the_weeklys(editor_client, seed_digest):
    page = editor_client.get(reverse("admin:digests_digest_change", args=[seed_digest.pk])).content.decode()
    boxes = parse_html(page).xpath("//input[@type='checkbox'][contains(@name, '-highlight')][not(contains(@name, '__prefix__'))]")
    assert len(boxes) == seed_digest.items.count()
    assert "highlight of the week" in page.lower()

    _sent(seed_digest)
    weekly = weekly_build(datetime.date(2026, 2, 8))
    weekly_page = editor_client.get(reverse("admin:digests_digest_change", args=[weekly.pk])).content.decode()
    assert not parse_html(weekly_page).xpath("//input[contains(@name, '-highlight')]")


def test_an_editor_marks_a_highlight_in_a_draft_daily(editor_client, seed_digest):
    item = ordered_items(seed_digest)[5]
    data = change_form_data(seed_digest, **{str(item.pk): {"highlight": "on"}})

    response = editor_client.post(reverse("admin:digests_digest_change", args=[seed_digest.pk]), data)

    assert response.status_code == 302
    assert list(Item.objects.filter(digest=seed_digest, highlight=True)) == [item]


def test_highlights_are_ticked_on_a_sent_daily_and_go_into_the_weekly(editor_client, settings, sent_week):
    settings.WEEKLY_ITEMS_PER_CATEGORY = 1
    url = reverse("admin:digests_digest_highlights", args=[sent_week.pk])
    change_page = editor_client.get(reverse("admin:digests_digest_change", args=[sent_week.pk])).content.decode()
    assert url in change_page
    last = ordered_items(sent_week)[-1]
    assert not parse_html(editor_client.get(url).content.decode()).xpath("//input[@name='highlight'][@checked]")

    response = editor_client.post(url, {"highlight": [str(last.pk)]})

    assert response.status_code == 302
    assert list(Item.objects.filter(highlight=True)) == [last]
    assert Digest.objects.get(pk=sent_week.pk).status == Digest.Status.SENT
    page = parse_html(editor_client.get(url).content.decode())
    assert page.xpath("//input[@name='highlight'][@checked]/@value") == [str(last.pk)]
    section = [i.title for i in ordered_items(weekly_build(datetime.date(2026, 2, 8))) if i.category_id == last.category_id]
    assert last.title in section

    editor_client.post(url, {})
    assert not Item.objects.filter(highlight=True).exists()


def test_only_staff_who_may_change_digests_tick_highlights(client, django_user_model, sent_week):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user(username="viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_digest"))
    client.force_login(viewer)
    url = reverse("admin:digests_digest_highlights", args=[sent_week.pk])
    assert client.get(url).status_code == 200
    item = ordered_items(sent_week)[0]
    assert client.post(url, {"highlight": [str(item.pk)]}).status_code == 403
    assert not Item.objects.filter(highlight=True).exists()


def test_a_weekly_has_no_highlights_page(editor_client, sent_week):
    weekly = weekly_build(datetime.date(2026, 2, 8))
    assert editor_client.get(reverse("admin:digests_digest_highlights", args=[weekly.pk])).status_code == 404
