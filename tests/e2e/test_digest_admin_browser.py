"""Spec for the change page's JavaScript, in real headless Chromium: key point inputs and item reordering."""

from __future__ import annotations

import pytest

from digests.content.digest_format import digest_parse
from digests.content.services import digest_import
from digests.models import Digest
from tests.helpers.admin_browser import item_block, open_item
from tests.helpers.digest_files import SEED_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(chromium):
    # Tall enough that an item and the one two places above it are both on screen for dragging.
    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 3000})
    page.set_default_timeout(10_000)
    yield page
    page.close()


@pytest.fixture
def digest_page(browser_page, live_server, django_user_model, settings):
    settings.LANGUAGE_CODE = "en"
    digest = digest_import(digest_parse(SEED_PATH.read_bytes()))
    django_user_model.objects.create_superuser(username="chief", password="pw-chief-123", email="chief@example.com")
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "chief")
    page.fill("#id_password", "pw-chief-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/digests/digest/{digest.pk}/change/")
    return page, digest


def section_titles(digest: Digest, category: str) -> list[str]:
    return list(digest.items.filter(category__name=category).order_by("position", "id").values_list("title", flat=True))


def test_key_points_become_one_input_each_and_edits_are_saved_as_a_list(digest_page):
    page, digest = digest_page
    block = open_item(page, "江苏省拟立法促进人工智能产业发展")

    inputs = block.locator("input.key-point")
    assert inputs.count() == 2
    assert block.locator("textarea[data-key-points]").is_hidden()
    inputs.nth(0).fill("改写后的第一点")
    block.locator("button.key-point-add").click()
    block.locator("input.key-point").nth(2).fill("新增的第三点")
    block.locator("input.key-point").nth(2).press("Enter")  # adds an empty point, must not submit
    block.locator("button.key-point-remove").nth(1).click()
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    item = digest.items.get(title="江苏省拟立法促进人工智能产业发展")
    assert item.key_points == ["改写后的第一点", "新增的第三点"]


def test_the_arrow_buttons_reorder_items_within_their_category(digest_page):
    page, digest = digest_page
    before = section_titles(digest, "模型与技术进展")

    item_block(page, before[0]).locator("button.item-move-down").click()
    item_block(page, before[4]).locator("button.item-move-up").click()
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    assert section_titles(digest, "模型与技术进展") == [before[1], before[0], before[2], before[4], before[3]]
    # The other categories are untouched.
    assert section_titles(digest, "政策与监管") == ["江苏省拟立法促进人工智能产业发展", "工信部发布开源AI智能体安全风险预警"]


def test_dragging_an_item_by_its_handle_moves_it(digest_page):
    page, digest = digest_page
    before = section_titles(digest, "投融资与并购")

    item_block(page, before[2]).locator(".item-drag-handle").drag_to(
        item_block(page, before[0]).locator("h3"), target_position={"x": 5, "y": 2}
    )
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    assert section_titles(digest, "投融资与并购") == [before[2], before[0], before[1]]
