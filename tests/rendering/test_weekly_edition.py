"""Spec: a weekly edition looks like an issue of its own everywhere a reader meets it: its subject and
masthead say it is the weekly and name its days, the archive lists it beside the dailies at
/archive/weekly/<END_DATE>/, and /feed/weekly/ carries the weekly editions only."""

from __future__ import annotations

import datetime

import feedparser
import pytest
from django.utils import timezone, translation

from digests.content.services import digest_duplicate
from digests.content.weekly import weekly_build
from digests.links import archive_url
from digests.models import Digest
from digests.rendering.lines import text_width
from digests.rendering.render import SUBJECT_MAX_COLUMNS, digest_subject, variant_render
from tests.helpers.html import parse_html, visible_text

pytestmark = pytest.mark.django_db

SUNDAY = datetime.date(2026, 2, 8)


def _sent(digest: Digest) -> Digest:
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.SENT, send_finished_at=timezone.now())
    return Digest.objects.get(pk=digest.pk)


@pytest.fixture
def week(seed_digest):
    """The seed (Fri 2/6) and a copy of it on Sat 2/7, both sent; the weekly of Mon 2/2 – Sun 2/8 built from them."""
    _sent(seed_digest)
    _sent(digest_duplicate(digest=seed_digest, with_items=True))
    return weekly_build(SUNDAY)


def test_its_subject_says_weekly_and_names_the_days_it_covers(week):
    with translation.override("zh-hans"):
        subject = digest_subject(week)
    assert subject.startswith("AI 行业动态 周刊 2/2–2/8｜江苏省拟立法促进人工智能产业发展")
    assert text_width(subject) <= SUBJECT_MAX_COLUMNS
    with translation.override("en"):
        assert digest_subject(week).startswith("AI 行业动态 Weekly 2/2–2/8｜")
    week.subject = "编辑写的主题"
    assert digest_subject(week) == "编辑写的主题"


def test_its_masthead_says_weekly_edition_with_the_date_range(week, seed_digest):
    rendered = variant_render(week, language="zh-hans")
    masthead = parse_html(rendered.html).find_class("dl")[0].text_content()
    assert masthead.startswith("周刊 · 2026年2月2日 – 2026年2月8日")
    assert rendered.text.splitlines()[0].startswith("AI 行业动态 · 周刊 · 2026年2月2日 – 2026年2月8日")
    assert "本周头条" in rendered.text and "本周头条" in rendered.html
    english = variant_render(week, language="en")
    assert "Weekly edition" in parse_html(english.html).find_class("dl")[0].text_content()
    assert "THIS WEEK'S LEAD" in english.text
    # The daily's promise ("every morning…") is not the weekly's: its tagline is left out.
    assert "每天早上" not in masthead and "每天早上" not in rendered.text
    # A daily keeps its single date and its tagline.
    daily = parse_html(variant_render(seed_digest, language="zh-hans").html).find_class("dl")[0].text_content()
    assert daily.startswith("2026年2月6日") and "周刊" not in daily and "每天早上，一封读懂 AI 行业" in daily


def test_the_view_in_browser_link_opens_the_weeklys_own_page(client, week):
    _sent(week)
    link = parse_html(variant_render(week, language="en").html).xpath("//a[text()='View in browser']/@href")[0]
    assert link == archive_url(SUNDAY, weekly=True) == "http://127.0.0.1:8000/archive/weekly/2026-02-08/"

    page = client.get("/archive/weekly/2026-02-08/")
    assert page.status_code == 200
    document = parse_html(page.content.decode())
    assert document.xpath("//link[@rel='canonical']/@href") == [link]
    assert document.findtext(".//title").startswith("AI 行业动态 周刊 (2026-02-02 – 2026-02-08)")
    text = visible_text(page.content.decode())
    assert "周刊" in text and "江苏省拟立法促进人工智能产业发展" in text
    # The daily of the same day keeps its address.
    assert client.get("/archive/2026-02-08/").status_code == 404
    assert client.get("/archive/2026-02-07/").status_code == 200


def test_a_draft_weekly_is_not_public(client, week):
    assert client.get("/archive/weekly/2026-02-08/").status_code == 404
    assert client.get("/archive/weekly/not-a-date/").status_code == 404


def test_the_archive_lists_weeklies_beside_dailies_marked_as_such(client, week):
    _sent(week)
    document = parse_html(client.get("/archive/").content.decode())
    entries = [" ".join(li.text_content().split()) for li in document.xpath("//ol[@class='archive-list']/li")]
    assert entries[0].startswith("周刊 AI 行业动态 周刊 (2026-02-02 – 2026-02-08)")
    assert entries[1].startswith("AI 行业动态 (2026-02-07)") and entries[2].startswith("AI 行业动态 (2026-02-06)")
    assert document.xpath("//ol[@class='archive-list']/li[1]/a/@href") == ["/archive/weekly/2026-02-08/"]
    assert document.xpath("//link[@rel='alternate']/@href")[-1] == "http://127.0.0.1:8000/feed/weekly/"


def test_feed_weekly_carries_only_weekly_editions_and_the_main_feed_only_dailies(client, week):
    _sent(week)

    weekly = feedparser.parse(client.get("/feed/weekly/").content)
    assert weekly.bozo == 0
    assert [entry.title for entry in weekly.entries] == ["AI 行业动态 周刊 (2026-02-02 – 2026-02-08)"]
    assert weekly.entries[0].link == "http://127.0.0.1:8000/archive/weekly/2026-02-08/"
    assert "江苏省拟立法促进人工智能产业发展" in weekly.entries[0].content[0].value

    daily = feedparser.parse(client.get("/feed/").content)
    assert [entry.title for entry in daily.entries] == ["AI 行业动态 (2026-02-07)", "AI 行业动态 (2026-02-06)"]
    category = week.items.first().category
    by_category = feedparser.parse(client.get(f"/feed/{category.slug}/").content)
    assert all("周刊" not in entry.title for entry in by_category.entries) and len(by_category.entries) == 2
