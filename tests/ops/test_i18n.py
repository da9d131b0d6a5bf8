"""Translations: complete catalogues, and every page and email in the language of whoever reads it.

Readers' pages follow the browser (Accept-Language) or the language switch;
emails follow the reader's stored language; the admin follows the staff user's
browser or language switch. The catalogues (locale/<lang>/LC_MESSAGES/django.po)
must cover every marked string, with nothing fuzzy and nothing left for
makemessages to add.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import translation

from digests.models import Subscriber
from digests.readers.confirmation import confirmation_send
from digests.rendering.render import variant_render
from tests.helpers.paths import ROOT
from tests.helpers.readers import make_reader

CATALOGUES = {"zh_Hans": ROOT / "locale/zh_Hans/LC_MESSAGES/django.po", "en": ROOT / "locale/en/LC_MESSAGES/django.po"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]|%[sd]")
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
SITE = settings.SITE_NAME


def _catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(CATALOGUES[language]))


def _translations(entry: polib.POEntry) -> list[str]:
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


# --- the catalogues ------------------------------------------------------------------


@pytest.mark.parametrize("language", CATALOGUES)
def test_no_catalogue_entry_is_fuzzy_or_obsolete(language):
    po = _catalogue(language)
    assert [e.msgid for e in po.fuzzy_entries()] == []
    assert [e.msgid for e in po.obsolete_entries()] == []


def test_every_entry_has_a_chinese_translation_with_the_same_placeholders():
    po = _catalogue("zh_Hans")
    untranslated = [e.msgid for e in po if not all(_translations(e))]
    assert untranslated == []
    for entry in po:
        wanted = sorted(PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
        for text in _translations(entry):
            assert sorted(PLACEHOLDER.findall(text)) == wanted, entry.msgid


def test_chinese_msgids_have_an_english_translation():
    """Where the product uses Chinese as the msgid (the item labels 说明/背景/要点/来源出处), English needs its own text."""
    po = _catalogue("en")
    chinese = [e for e in po if CJK.match(e.msgid)]
    assert {e.msgid for e in chinese} >= {"说明：", "背景：", "要点：", "来源出处：", "简体中文"}
    assert [e.msgid for e in chinese if not all(_translations(e))] == []
    assert po.find("说明：").msgstr == "Summary: " and po.find("来源出处：").msgstr == "Source: "


def test_makemessages_finds_no_string_missing_from_the_catalogues(tmp_path):
    """Every marked string in code and templates is in both catalogues, translated: nothing new, nothing stale."""
    if shutil.which("xgettext") is None:
        pytest.fail("xgettext not found: install GNU gettext (apt-get install -y gettext)")
    copy = tmp_path / "repo"
    skipped = {".git", ".venv", "var", "tests", "node_modules"}
    shutil.copytree(
        ROOT,
        copy,
        ignore=lambda folder, names: [
            n for n in names if (Path(folder) == ROOT and n in skipped) or n == "__pycache__" or n.endswith(".mo")
        ],
    )
    # Run from the copy so BASE_DIR (and so LOCALE_PATHS) is the copy: the repository's files stay untouched.
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-l", "en", "--ignore=tests", "--ignore=var"],
        cwd=copy,
        env={**os.environ, "VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "newsletter.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for language, original in CATALOGUES.items():
        before = {(e.msgctxt, e.msgid) for e in polib.pofile(str(original))}
        after = polib.pofile(str(copy / original.relative_to(ROOT)))
        current = {(e.msgctxt, e.msgid) for e in after if not e.obsolete}
        assert sorted(current - before, key=str) == [], f"new strings: run makemessages and translate them ({language})"
        assert sorted(before - current, key=str) == [], f"stale entries: run makemessages ({language})"
        assert [e.msgid for e in after.fuzzy_entries()] == []


def test_the_compiled_catalogues_are_current():
    """The pages below need the .mo files that `make messages` (part of `make test`) builds from the .po files."""
    for po in CATALOGUES.values():
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, (
            f"{mo} is missing or older than its .po: run `make messages`"
        )


# --- public pages ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_signup_page_follows_the_browser_language(client, categories):
    chinese = client.get("/subscribe/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in chinese
    assert f"订阅《{SITE}》" in chinese and "电子邮件地址" in chinese and "页面语言" in chinese

    english = client.get("/subscribe/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="en">' in english
    assert f"Subscribe to {SITE}" in english and "Email address" in english and "订阅《" not in english


@pytest.mark.django_db
def test_the_language_switch_overrides_the_browser_and_returns_to_the_page(client, categories):
    page = client.get("/subscribe/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert 'action="/i18n/setlang/"' in page and '<option value="en" lang="en">English</option>' in page

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/subscribe/"}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 302 and response["Location"] == "/subscribe/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert f"Subscribe to {SITE}" in client.get("/subscribe/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/subscribe/"})
    assert f"订阅《{SITE}》" in client.get("/subscribe/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


@pytest.mark.django_db
def test_a_reader_who_signs_up_in_english_gets_the_confirmation_email_in_english(
    client, categories, django_capture_on_commit_callbacks, eager_celery
):
    client.post("/i18n/setlang/", {"language": "en", "next": "/subscribe/"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/subscribe/", {"email": "reader@example.com", "categories": [categories[0].pk]}, HTTP_ACCEPT_LANGUAGE="zh-CN"
        )
    assert Subscriber.objects.get(email="reader@example.com").language == "en"
    assert [m.subject for m in mail.outbox] == [f"Confirm your subscription to {SITE}"]


# --- emails -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, active, subject, phrases",
    [
        (
            "en",
            "zh-hans",
            f"Confirm your subscription to {SITE}",
            ["Hello 李雷,", "To start your subscription", "The link works for 7 days."],
        ),
        ("zh-hans", "en", f"请确认订阅《{SITE}》", ["李雷，您好：", "要开始订阅", "链接在 7 天内有效。"]),
    ],
)
def test_the_confirmation_email_is_in_the_readers_language_whatever_is_active(language, active, subject, phrases, settings):
    settings.CONFIRMATION_MAX_AGE_DAYS = 7
    reader = make_reader("li@example.com", status=Subscriber.Status.PENDING, name="李雷", language=language)
    with translation.override(active):
        assert confirmation_send(reader.pk)
    message = mail.outbox[0]
    html = message.alternatives[0].content
    assert message.subject == subject
    for phrase in phrases:
        assert phrase in message.body and phrase in html
    assert f'<html lang="{language}">' in html
    assert ("Confirm my subscription" if language == "en" else "确认订阅</a>") in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, active, fixed, html_lang",
    [
        (
            "en",
            "zh-hans",
            [
                "In this issue",
                "14 stories",
                "TODAY'S LEAD",
                "Read more →",
                "Forwarded this email?",
                "Manage preferences",
                "Unsubscribe",
                "View in browser",
                "you subscribed to",
            ],
            "en",
        ),
        (
            "zh-hans",
            "en",
            ["本期内容", "14 条", "今日头条", "阅读原文 →", "背景：", "管理订阅设置", "退订", "在浏览器中查看", "您订阅了"],
            "zh-Hans",
        ),
    ],
)
def test_the_digest_emails_fixed_text_follows_the_language_argument(seed_digest, language, active, fixed, html_lang):
    with translation.override(active):
        email = variant_render(seed_digest, language=language)
    for phrase in fixed:
        assert phrase.replace("'", "&#x27;") in email.html or phrase in email.html, phrase
        assert phrase.strip() in email.text, phrase
    assert f'<html lang="{html_lang}"' in email.html
    # Editor content is never translated: the Chinese items read the same in both.
    assert "江苏省拟立法促进人工智能产业发展" in email.html and 'lang="zh-Hans"' in email.html


# --- the admin ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_follows_the_staff_users_browser_language(editor_client, seed_digest):
    url = reverse("admin:digests_digest_change", args=[seed_digest.pk])
    chinese = editor_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="zh-hans"' in chinese
    assert "每日简报" in chinese and "出刊日期" in chinese and 'data-move-up="上移"' in chinese and "注销" in chinese

    english = editor_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in english
    assert "Daily digests" in english and "Issue date" in english and 'data-move-up="Move up"' in english and "Log out" in english


@pytest.mark.django_db
def test_the_admin_header_has_a_language_switch_that_the_admin_then_follows(editor_client, seed_digest):
    url = reverse("admin:digests_digest_changelist")
    page = editor_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    user_tools = page[page.index('id="user-tools"') :]
    assert 'class="language-switch" action="/admin/language/" method="post"' in user_tools
    assert f'name="next" value="{url}"' in user_tools
    assert '<option value="zh-hans" lang="zh-hans" selected>简体中文</option>' in user_tools

    response = editor_client.post("/admin/language/", {"language": "en", "next": url}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 302 and response["Location"] == url
    english = editor_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "Select digest to change" in english and '<option value="en" lang="en" selected>English</option>' in english


@pytest.mark.django_db
def test_the_admin_login_page_offers_the_language_switch(client):
    page = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'class="language-switch"' in page and "Log in" in page
    assert "登录" in client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


@pytest.mark.django_db
def test_the_admin_preview_of_a_digest_without_items_labels_in_the_chosen_language(editor_client, seed_digest):
    empty = seed_digest.__class__.objects.create(issue_date="2026-02-07", title="AI 行业动态")
    url = reverse("admin:digests_digest_preview_email", args=[empty.pk])
    assert "This digest has no items yet." in editor_client.get(url + "?language=en").content.decode()
    assert "本期简报还没有条目。" in editor_client.get(url + "?language=zh-hans").content.decode()
