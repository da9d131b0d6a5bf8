"""Spec for the digest and category pages of the editorial admin."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from digests.content.digest_format import digest_parse
from digests.content.services import digest_import, digest_transition
from digests.models import Category, Digest, Item
from tests.helpers.admin_forms import change_form_data, ordered_items
from tests.helpers.digest_files import VALID_LINES, digest_bytes

# These tests read labels and messages: English, so translations cannot change them.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

LIST_URL = reverse("admin:digests_digest_changelist")


def change_url(digest: Digest) -> str:
    return reverse("admin:digests_digest_change", args=[digest.pk])


def form_index(digest: Digest, item: Item) -> int:
    return [i.pk for i in ordered_items(digest)].index(item.pk)


def error_shown_next_to(html: str, field_name: str, message: str) -> bool:
    """True if ``message`` is in an error list right before the input named ``field_name``."""
    field_at = html.find(f'name="{field_name}"')
    row_start = html.rfind('class="form-row', 0, field_at)
    error_at = html.find(escape(message), row_start, field_at)
    return field_at > 0 and error_at > 0 and "errorlist" in html[row_start:error_at]


# --------------------------------------------------------------------------
# List page


def test_the_list_shows_date_title_status_and_item_count(editor_client, seed_digest):
    response = editor_client.get(LIST_URL)

    assert response.status_code == 200
    row = response.context["cl"].result_list[0]
    assert (row.issue_date.isoformat(), row.title, row.item_count) == ("2026-02-06", "AI 行业动态", 14)
    content = response.content.decode()
    assert '<td class="field-item_count">14</td>' in content
    assert '<td class="field-status">Draft</td>' in content


def test_the_list_counts_items_in_the_same_query_whatever_the_number_of_digests(editor_client, seed_digest):
    with CaptureQueriesContext(connection) as one_digest:
        editor_client.get(LIST_URL)
    for day in (7, 8, 9):
        lines = list(VALID_LINES)
        lines[0] = f"AI 行业动态 (2026-02-0{day})"
        digest_import(digest_parse(digest_bytes(lines)))

    with CaptureQueriesContext(connection) as four_digests:
        response = editor_client.get(LIST_URL)

    assert [d.item_count for d in response.context["cl"].result_list] == [1, 1, 1, 14]
    assert len(four_digests) == len(one_digest)


def test_searching_by_item_title_finds_the_digest_without_inflating_its_count(editor_client, seed_digest):
    response = editor_client.get(LIST_URL, {"q": "MemoryLake"})

    assert [(d.pk, d.item_count) for d in response.context["cl"].result_list] == [(seed_digest.pk, 14)]
    assert list(editor_client.get(LIST_URL, {"q": "不存在的标题"}).context["cl"].result_list) == []


def test_the_list_filters_by_status_and_drills_down_by_date(editor_client, seed_digest):
    assert list(editor_client.get(LIST_URL, {"status__exact": "sent"}).context["cl"].result_list) == []
    assert len(editor_client.get(LIST_URL, {"status__exact": "draft"}).context["cl"].result_list) == 1
    assert len(editor_client.get(LIST_URL, {"issue_date__year": "2026", "issue_date__month": "2"}).context["cl"].result_list) == 1
    assert list(editor_client.get(LIST_URL, {"issue_date__year": "2025"}).context["cl"].result_list) == []


def test_the_list_offers_import_and_the_markdown_export_action(editor_client, seed_digest):
    response = editor_client.get(LIST_URL)

    assert reverse("admin:digests_digest_import") in response.content.decode()
    # An editor may export; nothing that schedules, sends or deletes.
    assert [name for name, _label in response.context["action_form"].fields["action"].choices] == ["", "export_markdown"]


# --------------------------------------------------------------------------
# Change page: items grouped by category


def test_items_are_grouped_under_their_categories_in_category_then_position_order(editor_client, seed_digest):
    response = editor_client.get(change_url(seed_digest))
    html = response.content.decode()

    headings = re.findall(r'<h3 class="item-category-heading">(.*?)</h3>', html)
    assert headings == ["政策与监管", "模型与技术进展", "产品与应用发布", "投融资与并购", "行业落地与生态"]
    # The items themselves (the lead story's choice list above names them too).
    start = html.index('<h3 class="item-category-heading">')
    titles_in_page = sorted(ordered_items(seed_digest), key=lambda item: html.index(escape(item.title), start))
    assert titles_in_page == ordered_items(seed_digest)
    first_item_of_second_category = html.index("国内基础大模型密集发布新技术", start)
    assert html.index("模型与技术进展</h3>") < first_item_of_second_category < html.index("产品与应用发布</h3>")


def test_key_points_are_edited_one_per_line_not_as_json(editor_client, seed_digest):
    item = ordered_items(seed_digest)[0]

    html = editor_client.get(change_url(seed_digest)).content.decode()

    field = f"items-{form_index(seed_digest, item)}-key_points"
    textarea = re.search(rf'<textarea name="{field}"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea is not None
    assert textarea.group(1).strip() == escape("\n".join(item.key_points))
    assert "[&quot;" not in textarea.group(1)
    assert "data-key-points" in textarea.group(0)


def test_saving_key_points_stores_a_json_list_of_strings(editor_client, seed_digest):
    item = ordered_items(seed_digest)[0]
    typed = "- 第一点，来自粘贴的 Markdown\r\n\r\n  第二点  \r\n• 第三点"

    response = editor_client.post(change_url(seed_digest), change_form_data(seed_digest, **{str(item.pk): {"key_points": typed}}))

    assert response.status_code == 302, response.context["errors"] if response.context else response
    item.refresh_from_db()
    assert item.key_points == ["第一点，来自粘贴的 Markdown", "第二点", "第三点"]
    html = editor_client.get(change_url(seed_digest)).content.decode()
    assert escape("第一点，来自粘贴的 Markdown\n第二点\n第三点") in html


def test_an_item_without_key_points_is_refused_with_the_error_next_to_the_field(editor_client, seed_digest):
    item = ordered_items(seed_digest)[2]
    field = f"items-{form_index(seed_digest, item)}-key_points"

    response = editor_client.post(
        change_url(seed_digest), change_form_data(seed_digest, **{str(item.pk): {"key_points": " \n \n"}})
    )

    assert response.status_code == 200
    assert error_shown_next_to(response.content.decode(), field, "Enter at least one key point (one per line).")
    item.refresh_from_db()
    assert item.key_points


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://example.com/file", "http://"])
def test_a_bad_source_link_is_refused_with_the_error_next_to_the_field(editor_client, seed_digest, url):
    item = ordered_items(seed_digest)[0]
    field = f"items-{form_index(seed_digest, item)}-source_url"
    original = item.source_url

    response = editor_client.post(change_url(seed_digest), change_form_data(seed_digest, **{str(item.pk): {"source_url": url}}))

    assert response.status_code == 200
    html = response.content.decode()
    assert error_shown_next_to(html, field, "Enter a valid URL.") or error_shown_next_to(
        html, field, "Enter an http:// or https:// link."
    )
    item.refresh_from_db()
    assert item.source_url == original


def test_a_source_link_typed_without_a_scheme_gets_https(editor_client, seed_digest):
    item = ordered_items(seed_digest)[0]

    editor_client.post(
        change_url(seed_digest), change_form_data(seed_digest, **{str(item.pk): {"source_url": "example.com/news"}})
    )

    item.refresh_from_db()
    assert item.source_url == "https://example.com/news"


def test_changing_positions_reorders_items_within_their_category(editor_client, seed_digest):
    section = [item for item in ordered_items(seed_digest) if item.category.name == "模型与技术进展"]
    first, second = section[0], section[1]

    response = editor_client.post(
        change_url(seed_digest),
        change_form_data(seed_digest, **{str(first.pk): {"position": 1}, str(second.pk): {"position": 0}}),
    )

    assert response.status_code == 302
    reordered = [item.title for item in ordered_items(seed_digest) if item.category.name == "模型与技术进展"]
    assert reordered[:2] == [second.title, first.title]
    html = editor_client.get(change_url(seed_digest)).content.decode()
    assert html.index(escape(second.title)) < html.index(escape(first.title))


def test_moving_an_item_to_another_category_moves_it_under_that_heading(editor_client, seed_digest):
    item = ordered_items(seed_digest)[0]
    products = Category.objects.get(name="产品与应用发布")

    editor_client.post(
        change_url(seed_digest), change_form_data(seed_digest, **{str(item.pk): {"category": products.pk, "position": 99}})
    )

    assert [i.title for i in ordered_items(seed_digest) if i.category_id == products.pk][-1] == item.title


def test_an_item_can_be_added_from_the_change_page(editor_client, seed_digest):
    data = change_form_data(seed_digest)
    n = int(data["items-TOTAL_FORMS"])
    data["items-TOTAL_FORMS"] = str(n + 1)
    data.update(
        {
            f"items-{n}-digest": seed_digest.pk,
            f"items-{n}-category": Category.objects.get(name="政策与监管").pk,
            f"items-{n}-position": "5",
            f"items-{n}-title": "新增的条目",
            f"items-{n}-summary": "说明文字。",
            f"items-{n}-key_points": "一点\n两点",
            f"items-{n}-source_name": "来源",
            f"items-{n}-source_url": "https://example.com/new",
        }
    )

    response = editor_client.post(change_url(seed_digest), data)

    assert response.status_code == 302
    assert Item.objects.get(title="新增的条目").key_points == ["一点", "两点"]


@pytest.mark.parametrize("status", [Digest.Status.SENDING, Digest.Status.SENT])
def test_a_digest_that_is_sending_or_sent_is_read_only(editor_client, seed_digest, status):
    digest_transition(seed_digest, to=Digest.Status.SENDING)
    if status == Digest.Status.SENT:
        digest_transition(seed_digest, to=Digest.Status.SENT)
    item = ordered_items(seed_digest)[0]

    page = editor_client.get(change_url(seed_digest))
    response = editor_client.post(change_url(seed_digest), change_form_data(seed_digest, **{str(item.pk): {"title": "改标题"}}))

    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="title"' not in html and 'name="items-0-title"' not in html
    assert escape(item.title) in html
    assert f"<li>{escape(item.key_points[0])}</li>" in html and "[&quot;" not in html
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.title != "改标题"


def test_status_is_never_edited_as_a_field(admin_client, seed_digest):
    html = admin_client.get(change_url(seed_digest)).content.decode()

    assert 'name="status"' not in html


def test_nobody_types_a_send_time_on_the_change_form(client, editor, publisher, seed_digest):
    for user in (editor, publisher):
        client.force_login(user)
        html = client.get(change_url(seed_digest)).content.decode()

        assert 'name="scheduled_at_0"' not in html and 'name="allow_stale"' not in html
        assert "Not scheduled." in html


def test_a_digest_created_in_the_admin_records_its_author(editor_client, editor):
    response = editor_client.post(
        reverse("admin:digests_digest_add"),
        {
            "issue_date": "2026-03-05",
            "title": "AI 行业动态",
            "preheader": "",
            "intro": "",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302
    assert Digest.objects.get(issue_date="2026-03-05").author == editor


def test_the_change_page_has_preview_and_export_buttons(editor_client, seed_digest):
    html = editor_client.get(change_url(seed_digest)).content.decode()

    assert reverse("admin:digests_digest_preview", args=[seed_digest.pk]) in html
    assert reverse("admin:digests_digest_export", args=[seed_digest.pk]) in html


# --------------------------------------------------------------------------
# Categories


def test_categories_are_listed_by_position_with_position_and_active_editable(editor_client, seed_digest):
    response = editor_client.get(reverse("admin:digests_category_changelist"))

    html = response.content.decode()
    assert [c.name for c in response.context["cl"].result_list][:2] == ["政策与监管", "模型与技术进展"]
    assert 'name="form-0-position"' in html and 'name="form-0-is_active"' in html


def test_a_category_added_without_a_slug_gets_a_pinyin_slug(editor_client):
    response = editor_client.post(
        reverse("admin:digests_category_add"),
        {"name": "安全与伦理", "slug": "", "position": "9", "description": "", "is_active": "on"},
    )

    assert response.status_code == 302
    assert Category.objects.get(name="安全与伦理").slug == "an-quan-yu-lun-li"


def test_a_category_keeps_a_slug_typed_by_the_editor(editor_client):
    editor_client.post(
        reverse("admin:digests_category_add"),
        {"name": "安全与伦理", "slug": "safety", "position": "9", "description": "", "is_active": "on"},
    )

    assert Category.objects.get(name="安全与伦理").slug == "safety"


def test_editors_set_subject_preheader_lead_and_section_order_and_see_the_brand(editor_client, seed_digest):
    from digests.rendering.render import variant_render

    url = reverse("admin:digests_digest_change", args=[seed_digest.pk])
    page = editor_client.get(url).content.decode()
    assert "#1677ff" in page and "#0958d9" in page  # the brand settings are shown
    form = editor_client.get(url).context["adminform"].form
    assert form["section_order_names"].initial.splitlines()[:2] == ["政策与监管", "模型与技术进展"]
    lead = seed_digest.items.get(title="OpenAI发布新一代编程模型GPT-5.3-Codex")
    data = change_form_data(seed_digest)
    data.update(
        subject="今日头条：GPT-5.3-Codex",
        preheader="编程模型之争再升级",
        lead_item=str(lead.pk),
        section_order_names="投融资与并购\n政策与监管",
    )
    response = editor_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    seed_digest.refresh_from_db()
    rendered = variant_render(seed_digest)
    assert (rendered.subject, rendered.preheader) == ("今日头条：GPT-5.3-Codex", "编程模型之争再升级")
    assert "GPT-5.3-Codex" in rendered.html.split('class="toc')[0]  # the lead comes first
    from tests.helpers.html import parse_html

    sections = [h.text_content() for h in parse_html(rendered.html).find_class("sec")]
    assert sections[:2] == ["投融资与并购", "政策与监管"]
