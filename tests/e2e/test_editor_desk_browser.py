"""Spec, in real Chromium: the editor's desk. Duplicating an issue, paste-aware fields, the compact editor."""

from __future__ import annotations

import re

import pytest

from digests.content.digest_format import digest_parse
from digests.content.services import digest_import
from digests.models import Digest
from tests.helpers.admin_browser import open_item
from tests.helpers.digest_files import SEED_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(chromium, live_server, django_user_model, settings):
    """A logged-in editor-in-chief, the seed issue, and the page."""
    settings.LANGUAGE_CODE = "en"
    digest = digest_import(digest_parse(SEED_PATH.read_bytes()))
    django_user_model.objects.create_superuser(username="chief", password="pw-chief-123", email="chief@example.com")
    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "chief")
    page.fill("#id_password", "pw-chief-123")
    page.click("input[type=submit]")
    page.base = live_server.url
    page.change_url = f"{live_server.url}/admin/digests/digest/{digest.pk}/change/"
    yield page, digest
    page.close()


def test_duplicating_yesterdays_issue_opens_tomorrows_draft(desk):
    page, digest = desk
    page.goto(page.change_url)

    page.click("a.duplicatelink")
    page.check("input[name=with_items]")
    page.click(".digest-duplicate input[type=submit]")
    page.wait_for_selector(".messagelist .success")

    copy = Digest.objects.get(issue_date="2026-02-07")
    assert page.url.endswith(f"/admin/digests/digest/{copy.pk}/change/")
    assert copy.status == Digest.Status.DRAFT and copy.items.count() == 14
    assert page.locator("#id_issue_date").input_value() == "2026-02-07"


def paste_into(locator, text: str) -> None:
    """Paste ``text`` into the focused field the way a browser does: a paste event with clipboard data."""
    locator.focus()
    locator.evaluate(
        """(field, text) => {
            const data = new DataTransfer();
            data.setData("text/plain", text);
            const event = new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true});
            if (field.dispatchEvent(event)) { field.setRangeText(text, field.selectionStart, field.selectionEnd, "end"); }
        }""",
        text,
    )


def test_pasting_several_lines_into_a_key_point_makes_one_point_per_line(desk):
    page, digest = desk
    page.goto(page.change_url)
    block = open_item(page, "江苏省拟立法促进人工智能产业发展")
    first = block.locator("input.key-point").nth(0)
    first.fill("")

    paste_into(first, "- 第一点：条例列入立法计划。\n- 第二点：营造良好环境。\n\n• 第三点：抢占制高点。\n")
    assert [i.input_value() for i in block.locator("input.key-point").all()] == [
        "第一点：条例列入立法计划。",
        "第二点：营造良好环境。",
        "第三点：抢占制高点。",
        "立法目的在于促进AI产业发展，营造良好发展环境。",
    ]
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    item = digest.items.get(title="江苏省拟立法促进人工智能产业发展")
    assert item.key_points == [
        "第一点：条例列入立法计划。",
        "第二点：营造良好环境。",
        "第三点：抢占制高点。",
        "立法目的在于促进AI产业发展，营造良好发展环境。",
    ]


def test_pasting_a_markdown_link_into_the_source_fills_name_and_link(desk):
    page, digest = desk
    page.goto(page.change_url)
    block = open_item(page, "江苏省拟立法促进人工智能产业发展")
    name = block.locator("input[name$='-source_name']")
    name.fill("")

    paste_into(name, "[新华日报](https://www.xhby.net/content/s1.html)")
    assert name.input_value() == "新华日报"
    assert block.locator("input[name$='-source_url']").input_value() == "https://www.xhby.net/content/s1.html"
    # A plain text paste is just text.
    paste_into(name, "·交汇点")
    assert name.input_value() == "新华日报·交汇点"
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    item = digest.items.get(title="江苏省拟立法促进人工智能产业发展")
    assert (item.source_name, item.source_url) == ("新华日报·交汇点", "https://www.xhby.net/content/s1.html")


def section_titles(digest: Digest, category: str) -> list[str]:
    return list(digest.items.filter(category__name=category).order_by("position", "id").values_list("title", flat=True))


def test_a_long_issue_opens_as_a_one_line_outline_and_expands_on_demand(desk):
    page, digest = desk
    page.goto(page.change_url)
    rows = page.locator(".digest-items .inline-related.has_original")

    assert rows.count() == 14
    assert page.locator(".digest-items .inline-related.item-collapsed").count() == 14
    first = rows.first
    assert first.locator("h3").is_visible() and not first.locator("input[name$='-title']").is_visible()
    page.click(".items-expand-all")
    assert page.locator(".digest-items .inline-related.item-collapsed").count() == 0
    page.click(".items-collapse-all")
    assert page.locator(".digest-items .inline-related.item-collapsed").count() == 14


def test_a_collapsed_item_is_dragged_by_any_part_of_it(desk):
    page, digest = desk
    page.goto(page.change_url)
    before = section_titles(digest, "模型与技术进展")

    source = page.locator(".digest-items .inline-related.has_original").filter(has_text=before[3]).first
    target = page.locator(".digest-items .inline-related.has_original").filter(has_text=before[0]).first
    # Grab the item by the end of its title bar (not the handle), drop it on the first item's upper half.
    box = source.bounding_box()
    source.drag_to(target, source_position={"x": box["width"] - 20, "y": box["height"] / 2}, target_position={"x": 200, "y": 3})
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    assert section_titles(digest, "模型与技术进展") == [before[3], before[0], before[1], before[2], before[4]]


def test_leaving_with_unsaved_changes_asks_first_and_saving_does_not(desk):
    page, digest = desk
    page.goto(page.change_url)
    dialogs: list[str] = []

    def stay(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.fill("#id_title", "AI 行业动态（改）")
    page.click(".breadcrumbs a[href$='/admin/digests/digest/']")
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url == page.change_url and page.locator("#id_title").input_value() == "AI 行业动态（改）"

    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    page.click(".breadcrumbs a[href$='/admin/digests/digest/']")
    page.wait_for_url("**/admin/digests/digest/")
    assert dialogs == ["beforeunload"]
    assert Digest.objects.get(pk=digest.pk).title == "AI 行业动态（改）"


def test_counters_show_the_length_of_subject_preheader_and_summary(desk):
    page, digest = desk
    page.goto(page.change_url)

    page.fill("#id_preheader", "江苏拟立法促进AI产业")
    counter = page.locator("#id_preheader + .char-count")
    assert counter.inner_text() == "11 / 90"
    page.fill("#id_preheader", "长" * 91)
    assert "char-count-over" in counter.get_attribute("class")
    page.fill("#id_subject", "AI 行业动态｜江苏立法")
    assert page.locator("#id_subject + .char-count").inner_text() == "12 / 60"
    block = open_item(page, "江苏省拟立法促进人工智能产业发展")
    summary = block.locator("textarea[name$='-summary']")
    summary.fill("一二三")
    assert block.locator("textarea[name$='-summary'] + .char-count").inner_text() == "3 characters"


def test_the_preview_beside_the_editor_narrows_to_a_phone_and_shows_a_chosen_variant(desk):
    from playwright.sync_api import expect

    page, digest = desk
    page.goto(page.change_url)
    frame = page.locator(".side-preview-frame")
    email = page.frame_locator(".side-preview-frame")

    assert email.locator("body").inner_text().count("江苏省拟立法促进人工智能产业发展") == 1
    page.click(".side-preview-phone")
    assert frame.evaluate("f => f.getBoundingClientRect().width") == 375
    page.locator(".side-preview-variant label").filter(has_text="政策与监管").locator("input").check()
    expect(frame).to_have_attribute("src", re.compile("categories="))
    expect(email.locator("body")).not_to_contain_text("国内基础大模型密集发布新技术")
    expect(email.locator("body")).to_contain_text("工信部发布开源AI智能体安全风险预警")
    assert page.locator("form.side-preview-test input[name=categories]").count() == 1


CONTRAST = """el => {
    const rgb = s => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
    const lum = c => { const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
                       return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    let bg = el, color = "rgba(0, 0, 0, 0)";
    while (bg && (color = getComputedStyle(bg).backgroundColor).startsWith("rgba(0, 0, 0, 0")) { bg = bg.parentElement; }
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(rgb(color))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_the_headers_language_label_is_readable(desk):
    page, _digest = desk
    page.goto(f"{page.base}/admin/")

    assert page.locator("#header .language-switch label").evaluate(CONTRAST) >= 4.5
