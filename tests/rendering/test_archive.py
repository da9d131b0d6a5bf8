"""Sent digests are public web pages; drafts and scheduled digests are not (issue 3)."""

import datetime
import html

import pytest
from django.urls import reverse
from django.utils import timezone

from digests.links import archive_url
from digests.models import Digest, Item
from tests.helpers.digest_files import seed_parsed
from tests.helpers.html import parse_html, visible_text


def _mark_sent(digest: Digest) -> Digest:
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.SENT, send_finished_at=timezone.now())
    return Digest.objects.get(pk=digest.pk)


@pytest.fixture
def sent_seed(seed_digest) -> Digest:
    return _mark_sent(seed_digest)


def test_a_sent_digest_is_a_full_web_page(client, sent_seed, seed_bytes):
    response = client.get("/archive/2026-02-06/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    text = visible_text(page)
    for section in seed_parsed(seed_bytes).sections:
        assert section.name in text
        for item in section.items:
            for value in (item.title, item.summary, item.background, *item.key_points, item.source_name):
                assert value in text
    document = parse_html(page)
    assert document.findtext(".//title") == "AI 行业动态 (2026-02-06) · AI 行业动态"
    assert document.xpath("//link[@rel='canonical']/@href") == ["http://127.0.0.1:8000/archive/2026-02-06/"]
    og = {m.get("property"): m.get("content") for m in document.xpath("//meta[starts-with(@property, 'og:')]")}
    assert og["og:title"] == "AI 行业动态 (2026-02-06)"
    assert og["og:url"] == archive_url(sent_seed.issue_date)
    assert og["og:type"] == "article" and og["og:description"].startswith("江苏省计划将")
    # The email's design, styled by the page's stylesheet rather than inlined styles, and without
    # any reader's links (preferences, unsubscribe).
    assert document.xpath("//h1")[0].text_content() == "AI 行业动态"
    assert document.find_class("lead") and document.find_class("toc") and document.find_class("sec")
    assert 'style="color:' not in page
    assert "PLACEHOLDER" not in page and "/unsubscribe/" not in page and "/preferences/" not in page
    sources = document.xpath("//a[contains(@class, 'rm')]/@href")
    assert len(sources) == Item.objects.filter(digest=sent_seed).count()
    assert all(href.startswith(("https://", "http://")) and "/r/" not in href for href in sources)


def test_the_email_view_in_browser_link_opens_this_page(client, sent_seed):
    from digests.rendering.render import variant_render

    link = parse_html(variant_render(sent_seed, language="en").html).xpath("//a[text()='View in browser']/@href")[0]
    assert link == archive_url(sent_seed.issue_date)
    assert client.get(link.removeprefix("http://127.0.0.1:8000")).status_code == 200


@pytest.mark.parametrize("status", ["draft", "scheduled", "cancelled"])
def test_unsent_digests_are_not_public(client, seed_digest, status):
    Digest.objects.filter(pk=seed_digest.pk).update(status=status)
    assert client.get("/archive/2026-02-06/").status_code == 404
    assert "2026-02-06" not in client.get("/archive/").content.decode()


@pytest.mark.parametrize("status", ["sending", "paused"])
def test_a_digest_is_public_once_its_send_has_started(client, seed_digest, status):
    # Readers who already have the email must be able to open "view in browser".
    Digest.objects.filter(pk=seed_digest.pk).update(status=status, send_started_at=timezone.now())
    assert client.get("/archive/2026-02-06/").status_code == 200


def test_unknown_and_malformed_dates_are_404(client, sent_seed):
    assert client.get("/archive/2026-02-07/").status_code == 404
    assert client.get("/archive/yesterday/").status_code == 404
    assert client.get("/archive/2026-02-30/").status_code == 404


def test_the_archive_lists_sent_digests_newest_first_and_paginates(client, db):
    for day in range(1, 26):
        _mark_sent(Digest.objects.create(issue_date=datetime.date(2026, 1, day), title="AI 行业动态"))
    Digest.objects.create(issue_date=datetime.date(2026, 1, 31), title="草稿")
    first = client.get(reverse("digests:archive"))
    assert first.status_code == 200
    links = parse_html(first.content.decode()).xpath("//ol[@class='archive-list']//a/@href")
    assert links[:2] == ["/archive/2026-01-25/", "/archive/2026-01-24/"] and len(links) == 20
    assert "草稿" not in first.content.decode()
    second = client.get(reverse("digests:archive") + "?page=2")
    links = parse_html(second.content.decode()).xpath("//ol[@class='archive-list']//a/@href")
    assert links == [f"/archive/2026-01-{day:02d}/" for day in range(5, 0, -1)]
    assert client.get(reverse("digests:archive") + "?page=99").status_code == 200


def test_editor_text_is_escaped_on_the_page(client, sent_seed):
    item = Item.objects.filter(digest=sent_seed).first()
    Item.objects.filter(pk=item.pk).update(title="<script>alert(1)</script>", source_url="javascript:alert(2)")
    page = client.get("/archive/2026-02-06/").content.decode()
    document = parse_html(page)
    assert not document.xpath("//body//script")
    assert html.escape("<script>alert(1)</script>", quote=False) in page
    assert "javascript:" not in page


def test_the_base_page_has_a_language_block_for_other_pages(client, sent_seed):
    from django.template.loader import get_template

    source = get_template("digests/base.html").template.source
    assert "{% block language %}" in source
    page = parse_html(client.get("/archive/").content.decode())
    assert page.xpath("//meta[@name='viewport']")
