"""Atom feeds of sent digests, overall and per category, valid for a real parser (issue 3)."""

import datetime

import feedparser
import pytest
from django.utils import timezone

from digests.models import Category, Digest, Item


@pytest.fixture
def sent_seed(seed_digest) -> Digest:
    Digest.objects.filter(pk=seed_digest.pk).update(status=Digest.Status.SENT, send_finished_at=timezone.now())
    Digest.objects.create(issue_date=datetime.date(2026, 2, 7), title="草稿不公开")
    return Digest.objects.get(pk=seed_digest.pk)


def _parse(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


def test_the_feed_lists_sent_digests_with_their_content(client, sent_seed):
    feed = _parse(client, "/feed/")
    assert feed.version == "atom10"
    assert feed.feed.title == "AI 行业动态"
    assert [entry.title for entry in feed.entries] == ["AI 行业动态 (2026-02-06)"]
    entry = feed.entries[0]
    assert entry.link == "http://127.0.0.1:8000/archive/2026-02-06/"
    assert entry.summary.startswith("江苏省计划将")
    content = entry.content[0].value
    for item in Item.objects.filter(digest=sent_seed):
        assert item.title in content
    assert "草稿不公开" not in str(feed)


def test_a_category_feed_has_only_that_categorys_items(client, sent_seed):
    category = Category.objects.get(name="投融资与并购")
    feed = _parse(client, f"/feed/{category.slug}/")
    assert feed.feed.title == "AI 行业动态 · 投融资与并购"
    entry = feed.entries[0]
    assert entry.title == "AI 行业动态 (2026-02-06) · 投融资与并购"
    assert entry.link == f"http://127.0.0.1:8000/archive/2026-02-06/#s-{category.slug}"
    content = entry.content[0].value
    for item in Item.objects.filter(digest=sent_seed):
        assert (item.title in content) is (item.category_id == category.pk)


def test_a_category_without_sent_items_has_an_empty_valid_feed(client, sent_seed):
    Category.objects.create(name="机器人", slug="robots")
    feed = _parse(client, "/feed/robots/")
    assert feed.entries == []


def test_an_unknown_category_is_404(client, sent_seed):
    assert client.get("/feed/no-such-category/").status_code == 404


def test_hostile_text_stays_text_in_the_feed(client, sent_seed):
    item = Item.objects.filter(digest=sent_seed).first()
    Item.objects.filter(pk=item.pk).update(title="<script>alert(1)</script> & more")
    feed = _parse(client, "/feed/")
    content = feed.entries[0].content[0].value
    assert "<script>" not in content and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in content


HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="#" onclick="alert(3)">x</a>'


@pytest.mark.parametrize("url", ["/feed/", "category"])
def test_hostile_titles_summaries_and_key_points_never_become_markup_in_the_raw_atom_xml(client, sent_seed, url):
    """Issue 11.5: a feed reader renders <summary type="html"> and <content type="html"> as HTML."""
    from xml.etree import ElementTree

    item = Item.objects.filter(digest=sent_seed).first()
    Item.objects.filter(pk=item.pk).update(
        title=HOSTILE, summary=HOSTILE, background=HOSTILE, key_points=[HOSTILE, "ok"], source_name=HOSTILE
    )
    Digest.objects.filter(pk=sent_seed.pk).update(preheader="")
    if url == "category":
        url = f"/feed/{item.category.slug}/"
    raw = client.get(url).content
    atom = "{http://www.w3.org/2005/Atom}"
    entries = ElementTree.fromstring(raw).findall(f"{atom}entry")
    assert entries
    html_parts = [node.text for entry in entries for node in entry if node.get("type") == "html"]
    assert len(html_parts) == 2 * len(entries)  # a summary and a content per entry
    assert any("alert(1)" in part for part in html_parts if part)
    for part in html_parts:
        # Parse what a feed reader would render: no element may be a script or carry an on* handler.
        elements = _html_elements(part or "")
        assert not [tag for tag, _attrs in elements if tag == "script"]
        assert not [(tag, name) for tag, attrs in elements for name, _value in attrs if name.lower().startswith("on")]


def _html_elements(markup: str) -> list[tuple[str, list[tuple[str, str]]]]:
    from html.parser import HTMLParser

    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(markup)
    return found
