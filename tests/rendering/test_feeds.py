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
