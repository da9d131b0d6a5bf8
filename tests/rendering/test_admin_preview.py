"""Spec for the admin's Preview button: the digest as readers will see it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from digests.models import Category, Digest, Item

pytestmark = pytest.mark.django_db


def preview_url(digest: Digest) -> str:
    """The email itself, as the preview page's frame shows it."""
    return reverse("admin:digests_digest_preview_email", args=[digest.pk])


def test_the_preview_url_is_the_digests_preview_path(seed_digest):
    assert reverse("admin:digests_digest_preview", args=[seed_digest.pk]) == f"/admin/digests/digest/{seed_digest.pk}/preview/"
    assert preview_url(seed_digest) == f"/admin/digests/digest/{seed_digest.pk}/preview/email/"


def test_the_preview_page_shows_the_pre_send_checks_and_frames_the_email(editor_client, seed_digest):
    item = seed_digest.items.order_by("id").first()
    item.source_url = ""
    item.save()
    page = editor_client.get(reverse("admin:digests_digest_preview", args=[seed_digest.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'class="error" data-code="' in html and item.title in html
    assert f'src="{preview_url(seed_digest)}"' in html and "sandbox" in html


def test_the_preview_shows_one_variant_and_the_text_part(editor_client, seed_digest):
    policy = Category.objects.get(name="政策与监管")
    url = preview_url(seed_digest) + f"?categories={policy.pk}&part=text"
    text = editor_client.get(url).content.decode()
    assert "江苏省拟立法促进人工智能产业发展" in text
    assert "国内基础大模型密集发布新技术" not in text
    assert "<table" not in text


def test_the_preview_shows_every_item_title_and_key_point_of_the_seed(editor_client, seed_digest):
    response = editor_client.get(preview_url(seed_digest))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    for item in seed_digest.items.all():
        assert escape(item.title) in html
        assert escape(item.summary) in html
        for point in item.key_points:
            assert escape(point) in html
        assert f'href="{escape(item.source_url)}"' in html


def test_the_preview_reads_in_category_then_item_order(editor_client, seed_digest):
    html = editor_client.get(preview_url(seed_digest)).content.decode()

    names = ["政策与监管", "模型与技术进展", "产品与应用发布", "投融资与并购", "行业落地与生态"]
    assert sorted(names, key=html.index) == names
    ordered = seed_digest.items.order_by("category__position", "position").values_list("title", flat=True)
    assert sorted(ordered, key=lambda title: html.index(escape(title))) == list(ordered)


def test_background_is_shown_only_for_items_that_have_one(editor_client, seed_digest):
    seed_digest.items.filter(position=0, category__name="政策与监管").update(background="")

    html = editor_client.get(preview_url(seed_digest)).content.decode()

    assert html.count("背景：") == seed_digest.items.exclude(background="").count() == 13
    for summary in seed_digest.items.values_list("summary", flat=True):
        assert escape(summary) in html


def test_hostile_text_is_shown_as_text(editor_client, seed_digest):
    Item.objects.create(
        digest=seed_digest,
        category=Category.objects.first(),
        position=9,
        title="<script>alert('title')</script>",
        summary='<img src=x onerror="alert(1)">',
        key_points=["<b>bold?</b>"],
        source_name="</a><script>",
        source_url='https://example.com/?q=<x>&y="1"',
    )
    seed_digest.intro = "<iframe src=https://evil.example>"
    seed_digest.save()

    response = editor_client.get(preview_url(seed_digest))

    html = response.content.decode()
    assert "&lt;script&gt;alert(" in html and "title" in html
    assert "<script" not in html
    assert "<img src=x" not in html and "<iframe" not in html and "<b>bold?</b>" not in html
    assert "&lt;b&gt;bold?&lt;/b&gt;" in html
    assert "script-src" not in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]


def test_a_digest_without_items_previews_as_empty(editor_client):
    digest = Digest.objects.create(issue_date="2026-03-01", title="空的一期")

    html = editor_client.get(preview_url(digest)).content.decode()

    assert "空的一期" in html
    assert "说明：" not in html


def test_an_unknown_digest_is_not_found(editor_client, db):
    assert editor_client.get(reverse("admin:digests_digest_preview", args=[999999])).status_code == 404


def test_the_preview_shows_the_subject_and_preheader_readers_will_see(editor_client, seed_digest):
    html = editor_client.get(preview_url(seed_digest)).content.decode()
    assert escape("AI 行业动态 2/6｜江苏省拟立法促进人工智能产业发展") in html
    assert escape("江苏省计划将《人工智能产业发展促进条例》") in html
