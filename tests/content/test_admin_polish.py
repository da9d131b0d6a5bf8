"""Spec for the admin's language and polish: per-user language, labelled inputs, a translated 403, history in the
admin's language, one name per language, one kind of quotation mark, a favicon."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import polib
import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import translation

from digests.models import StaffPreference
from tests.helpers.admin_forms import change_form_data, ordered_items
from tests.helpers.paths import ROOT

pytestmark = [pytest.mark.django_db]


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def test_the_admin_language_is_remembered_for_the_user_not_the_browser(editor_client, editor):
    page = editor_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f'action="{reverse("admin_set_language")}"' in page

    editor_client.post(reverse("admin_set_language"), {"language": "en", "next": "/admin/"})

    assert StaffPreference.objects.get(user=editor).language == "en"
    other_browser = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    other_browser.force_login(editor)
    assert html_lang(other_browser.get("/admin/")) == "en"
    # Readers' pages still follow the browser.
    assert html_lang(other_browser.get("/subscribe/")) == "zh-hans"


def test_a_user_without_a_choice_gets_the_browsers_language(editor_client):
    assert html_lang(editor_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")) == "en"
    assert html_lang(editor_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans")) == "zh-hans"


class _Controls(HTMLParser):
    """Every form control that a person fills in, and every label's target."""

    def __init__(self):
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.in_label = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit", "button"):
            self.controls.append({**attrs, "_in_label": self.in_label > 0})

    def handle_endtag(self, tag):
        if tag == "label":
            self.in_label -= 1

    def unlabelled(self) -> list[str]:
        return [
            c.get("name") or c.get("id") or "?"
            for c in self.controls
            if not (c["_in_label"] or c.get("aria-label") or c.get("aria-labelledby") or c.get("id") in self.label_for)
        ]


@pytest.mark.parametrize("page", ["sending", "change"])
def test_every_input_of_the_digest_and_sending_pages_has_a_label(publisher_client, seed_digest, page):
    html = publisher_client.get(reverse(f"admin:digests_digest_{page}", args=[seed_digest.pk])).content.decode()
    html = re.sub(r'<div class="inline-related[^"]*empty-form.*?</div>\s*</fieldset>', "", html, flags=re.S)
    controls = _Controls()
    controls.feed(html)

    assert controls.controls and controls.unlabelled() == []


def test_a_forbidden_page_is_translated(editor_client, seed_digest):
    url = reverse("admin:digests_digest_sending", args=[seed_digest.pk])

    chinese = editor_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    english = editor_client.get(url, HTTP_ACCEPT_LANGUAGE="en")

    assert chinese.status_code == english.status_code == 403
    assert "无权访问" in chinese.content.decode() and "Access denied" in english.content.decode()
    assert "digests/favicon" in english.content.decode()


def test_history_names_the_fields_in_the_admins_language(editor_client, seed_digest):
    item = ordered_items(seed_digest)[0]
    data = change_form_data(seed_digest, **{str(item.pk): {"position": "7", "source_name": "新华日报"}})
    data["title"] = "AI 行业动态（周末版）"
    editor_client.post(reverse("admin:digests_digest_change", args=[seed_digest.pk]), data)

    entry = LogEntry.objects.get(object_id=str(seed_digest.pk))
    with translation.override("zh-hans"):
        chinese = entry.get_change_message()
    with translation.override("en"):
        english = entry.get_change_message()

    assert "位置" in chinese and "来源名称" in chinese and "标题" in chinese
    assert "Position" not in chinese and "Title" not in chinese
    assert "position" in english.lower() and "source name" in english.lower()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_language_has_one_name_across_the_admin(editor_client, seed_digest, language):
    pages = [
        editor_client.get(reverse("admin:digests_digest_change", args=[seed_digest.pk]), HTTP_ACCEPT_LANGUAGE=language),
        editor_client.get(reverse("admin:digests_digest_preview", args=[seed_digest.pk]), HTTP_ACCEPT_LANGUAGE=language),
    ]
    for response in pages:
        options = re.findall(r'<option value="(zh-hans|en)"[^>]*>([^<]+)</option>', response.content.decode())
        assert options and {name.strip() for _code, name in options} == {"简体中文", "English"}


def test_error_messages_quote_with_one_kind_of_quotation_mark():
    po = polib.pofile(str(ROOT / "locale/en/LC_MESSAGES/django.po"))
    straight = [e.msgid for e in po if '"' in e.msgid and any(path.endswith(".py") for path, _line in e.occurrences)]

    assert straight == []


def test_the_site_has_a_favicon(client, editor_client):
    assert client.get("/favicon.ico")["Location"].endswith("digests/favicon.svg")
    assert 'rel="icon"' in editor_client.get("/admin/").content.decode()
    assert 'rel="icon"' in client.get("/subscribe/").content.decode()
