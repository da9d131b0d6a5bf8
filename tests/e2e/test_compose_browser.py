"""Spec, in real Chromium: composing the seed issue in the admin, by hand and by pasting its text.

Both paths must produce exactly the seed issue. Each test counts the
editor's interactions (a click, a fill, a key press, a choice in a list) and
the seconds they take; the README reports the figures.
"""

from __future__ import annotations

import time

import pytest

from digests.content.digest_format import digest_parse
from digests.content.services import digest_to_parsed
from digests.models import Category, Digest
from tests.helpers.digest_files import SEED_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Editor:
    """A browser page that counts what the editor does."""

    def __init__(self, page):
        self.page = page
        self.interactions = 0

    def fill(self, selector_or_locator, value: str):
        self.interactions += 1
        target = self.page.locator(selector_or_locator) if isinstance(selector_or_locator, str) else selector_or_locator
        target.fill(value)

    def click(self, selector_or_locator):
        self.interactions += 1
        target = self.page.locator(selector_or_locator) if isinstance(selector_or_locator, str) else selector_or_locator
        target.click()

    def press(self, locator, key: str):
        self.interactions += 1
        locator.press(key)

    def choose(self, locator, label: str):
        self.interactions += 1
        locator.select_option(label=label)


@pytest.fixture
def editor_page(chromium, live_server, django_user_model, settings):
    settings.LANGUAGE_CODE = "en"
    django_user_model.objects.create_superuser(username="chief", password="pw-chief-123", email="chief@example.com")
    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "chief")
    page.fill("#id_password", "pw-chief-123")
    page.click("input[type=submit]")
    yield page, live_server.url
    page.close()


def comparable(parsed):
    return (
        parsed.title,
        parsed.issue_date,
        [
            (s.name, [(i.title, i.summary, i.background, i.key_points, i.source_name, i.source_url) for i in s.items])
            for s in parsed.sections
        ],
    )


def report(capsys, how: str, editor: Editor, seconds: float) -> None:
    with capsys.disabled():
        print(f"\n[compose] {how}: {editor.interactions} interactions, {seconds:.1f} s")


def test_composing_the_seed_issue_by_hand_item_by_item(editor_page, capsys):
    page, base = editor_page
    seed = digest_parse(SEED_PATH.read_bytes())
    for position, section in enumerate(seed.sections):
        Category.objects.create(name=section.name, position=position)
    editor = Editor(page)
    page.goto(f"{base}/admin/digests/digest/add/")

    started = time.monotonic()
    editor.fill("#id_issue_date", seed.issue_date.isoformat())
    editor.fill("#id_title", seed.title)
    index = 0
    for section in seed.sections:
        for item in section.items:
            editor.click(".digest-items .add-row a")
            form = page.locator(f"#items-{index}")
            editor.choose(form.locator(f"#id_items-{index}-category"), section.name)
            editor.fill(form.locator(f"#id_items-{index}-title"), item.title)
            editor.fill(form.locator(f"#id_items-{index}-summary"), item.summary)
            if item.background:
                editor.fill(form.locator(f"#id_items-{index}-background"), item.background)
            for number, point in enumerate(item.key_points):
                if number:
                    editor.press(form.locator("input.key-point").nth(number - 1), "Enter")
                editor.fill(form.locator("input.key-point").nth(number), point)
            editor.fill(form.locator(f"#id_items-{index}-source_name"), item.source_name)
            editor.fill(form.locator(f"#id_items-{index}-source_url"), item.source_url)
            index += 1
    editor.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    seconds = time.monotonic() - started

    assert comparable(digest_to_parsed(Digest.objects.get())) == comparable(seed)
    report(capsys, "by hand", editor, seconds)


def test_composing_the_seed_issue_by_pasting_its_text(editor_page, capsys):
    page, base = editor_page
    seed = digest_parse(SEED_PATH.read_bytes())
    editor = Editor(page)
    page.goto(f"{base}/admin/digests/digest/")

    started = time.monotonic()
    editor.click(".importlink")
    editor.fill("textarea[name=text]", SEED_PATH.read_text("utf-8"))
    editor.click("input[type=submit].default")
    page.wait_for_selector(".messagelist .success")
    seconds = time.monotonic() - started

    assert comparable(digest_to_parsed(Digest.objects.get())) == comparable(seed)
    report(capsys, "by pasting", editor, seconds)


def test_pasted_text_with_a_mistake_is_refused_with_the_line_beside_the_text(editor_page):
    page, base = editor_page
    text = SEED_PATH.read_text("utf-8").replace("说明：江苏省计划", "说明江苏省计划", 1)
    page.goto(f"{base}/admin/digests/digest/import/")

    page.fill("textarea[name=text]", text)
    page.click("input[type=submit].default")

    problem = page.locator(".form-row .import-problems li[data-line]").first
    assert problem.inner_text().startswith("line 5:")
    assert not Digest.objects.exists()
    problem.click()
    selected = page.evaluate(
        "() => { const t = document.querySelector('textarea[name=text]'); return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected == text.splitlines()[4]
