"""A digest variant becomes subject, preheader, HTML and plain text (issue 3)."""

import pytest
from django.test import override_settings

from digests.links import PLACEHOLDER_LINKS, ReaderLinks, archive_url
from digests.models import Category, Item
from digests.rendering.render import RenderedEmail, variant_render
from tests.helpers.digest_files import seed_parsed
from tests.helpers.html import parse_html, visible_text


def _flat(text: str) -> str:
    # The text part wraps long lines; compare without line breaks and indentation.
    return "".join(text.split())


@pytest.fixture
def full(seed_digest) -> RenderedEmail:
    return variant_render(seed_digest)


def test_the_full_variant_shows_every_item_and_key_point_in_both_parts(seed_digest, seed_bytes, full):
    parsed = seed_parsed(seed_bytes)
    html_text = visible_text(full.html)
    text = _flat(full.text)
    for section in parsed.sections:
        assert section.name in html_text and section.name in text
        for item in section.items:
            for value in (item.title, item.summary, item.background, *item.key_points, item.source_name):
                assert value in html_text, value
                assert _flat(value) in text, value
            assert item.source_url in full.text
            assert f'href="{item.source_url}"' in full.html.replace("&amp;", "&")


def test_subject_masthead_and_preheader_follow_the_seed(seed_digest, full):
    # The default subject: the publication, the day and the lead story (the first item).
    assert full.subject == "AI 行业动态 2/6｜江苏省拟立法促进人工智能产业发展"
    document = parse_html(full.html)
    (masthead,) = document.xpath("//h1")
    assert masthead.text_content() == "AI 行业动态"
    style = masthead.get("style").replace(" ", "")
    assert "color:#0958d9" in style and "font-size:26px" in style and "font-weight:bold" in style
    # Without an editor preheader or 导语, the lead's 说明 stands in; it is the first text in the body.
    assert full.preheader.startswith("江苏省计划将《人工智能产业发展促进条例》纳入2026年度正式立法项目")
    assert len(full.preheader) <= 90
    body = document.body
    assert body[0].get("class") == "ph"
    assert (body.text or "").strip() == ""
    assert body[0].text_content().startswith(full.preheader)


def test_an_editor_preheader_wins(seed_digest):
    seed_digest.preheader = "今日要闻：大模型密集发布"
    seed_digest.save()
    assert variant_render(seed_digest).preheader == "今日要闻：大模型密集发布"


def test_the_layout_is_email_safe(full):
    document = parse_html(full.html)
    assert document.get("lang") == "zh-Hans"
    assert '<meta charset="utf-8">' in full.html
    tables = document.xpath("//table")
    assert tables and all(table.get("role") == "presentation" for table in tables)
    container = document.find_class("box")[0]
    assert "max-width:600px" in container.get("style").replace(" ", "")
    assert 'width="600"' in full.html  # Outlook's fixed-width table in its conditional comment
    font = document.find_class("c")[0].get("style")
    assert "PingFang SC" in font and "Microsoft YaHei" in font and "sans-serif" in font


def test_the_table_of_contents_lists_sections_with_item_counts(seed_digest):
    full = variant_render(seed_digest, language="en")
    document = parse_html(full.html)
    contents = " ".join(document.find_class("toc")[0].text_content().split())
    assert contents == "In this issue 政策与监管 2 · 模型与技术进展 5 · 产品与应用发布 1 · 投融资与并购 3 · 行业落地与生态 3"
    assert "模型与技术进展 (5)" in full.text


def test_the_footer_has_why_preferences_unsubscribe_browser_link_and_address(seed_digest, settings):
    full = variant_render(seed_digest, language="en")
    footer = parse_html(full.html).find_class("ft")[0]
    hrefs = [a.get("href") for a in footer.xpath(".//a")]
    assert hrefs == [
        PLACEHOLDER_LINKS.preferences_url,
        PLACEHOLDER_LINKS.unsubscribe_url,
        archive_url(seed_digest.issue_date),
        "http://127.0.0.1:8000/subscribe/",  # "Forwarded this email? Subscribe"
    ]
    assert archive_url(seed_digest.issue_date) == "http://127.0.0.1:8000/archive/2026-02-06/"
    assert "you subscribed to AI 行业动态" in footer.text_content()
    assert settings.PUBLISHER_ADDRESS in footer.text_content()
    for line in (
        PLACEHOLDER_LINKS.preferences_url,
        PLACEHOLDER_LINKS.unsubscribe_url,
        archive_url(seed_digest.issue_date),
        settings.PUBLISHER_ADDRESS,
    ):
        assert line in full.text


def test_a_two_category_variant_contains_only_those_sections(seed_digest):
    wanted = Category.objects.filter(name__in=["政策与监管", "投融资与并购"])
    rendered = variant_render(seed_digest, frozenset(c.pk for c in wanted))
    sections = [h2.text_content() for h2 in parse_html(rendered.html).find_class("sec")]
    assert sections == ["政策与监管", "投融资与并购"]
    html_text = visible_text(rendered.html)
    for item in Item.objects.filter(digest=seed_digest).select_related("category"):
        shown = item.category in wanted
        assert (item.title in html_text) is shown
        assert (item.title in rendered.text) is shown
    assert "模型与技术进展" not in rendered.text and "模型与技术进展" not in rendered.html
    assert rendered.preheader.startswith("江苏省计划将")


def test_a_reader_whose_categories_have_no_items_gets_no_email(seed_digest):
    empty = Category.objects.create(name="机器人")
    assert variant_render(seed_digest, frozenset({empty.pk})) is None
    assert variant_render(seed_digest, frozenset()) is None


def test_background_is_shown_only_when_present(seed_digest):
    item = Item.objects.filter(digest=seed_digest).first()
    item.background = ""
    item.save()
    seed_digest.save()
    rendered = variant_render(seed_digest, frozenset({item.category_id}))
    block = parse_html(rendered.html).find_class("lead")[0]
    assert "背景：" not in block.text_content()
    assert item.summary in block.text_content()


def test_hostile_editor_text_is_escaped_and_bad_links_are_not_links(seed_digest):
    category = Category.objects.create(name='<img src=x onerror="alert(1)">', slug="hostile")
    Item.objects.create(
        digest=seed_digest,
        category=category,
        title="<script>alert('title')</script>",
        summary="<b>bold</b> & <a href='https://evil.example'>link</a>",
        background='" onmouseover="alert(2)',
        key_points=["<iframe src=https://evil.example></iframe>"],
        source_name="<em>来源</em>",
        source_url="javascript:alert(document.cookie)",
    )
    Item.objects.create(
        digest=seed_digest,
        category=category,
        title="数据链接",
        summary="s",
        source_name="数据",
        source_url="data:text/html,<script>x</script>",
    )
    rendered = variant_render(seed_digest, frozenset({category.pk}))
    document = parse_html(rendered.html)
    assert not document.xpath("//body//script|//iframe|//img[@onerror]|//b|//em|//*[@onmouseover]")
    assert "<script>alert('title')</script>" in visible_text(rendered.html)
    hrefs = [a.get("href") for a in document.xpath("//a")]
    assert not [h for h in hrefs if not h.startswith(("https://", "http://", "#"))]
    assert "javascript:" not in rendered.html and "data:text" not in rendered.html
    assert "<em>来源</em>" in visible_text(rendered.html)  # the source name is still shown, as text
    # The text part is plain text: the title appears as typed, the bad link does not.
    assert "<script>alert('title')</script>" in rendered.text
    assert "javascript:" not in rendered.text


def test_real_reader_links_are_filled_in_and_escaped(seed_digest):
    links = ReaderLinks(
        preferences_url="https://news.example.com/p/abc:def/?a=1&b=2",
        unsubscribe_url="https://news.example.com/u/abc:def/",
        reader_ref="ref123",
    )
    rendered = variant_render(seed_digest, None, links)
    assert 'href="https://news.example.com/p/abc:def/?a=1&amp;b=2"' in rendered.html
    assert "https://news.example.com/p/abc:def/?a=1&b=2" in rendered.text
    assert "PLACEHOLDER" not in rendered.html + rendered.text


@override_settings(TRACK_CLICKS=True, TRACK_OPENS=True, SITE_URL="https://news.example.com")
def test_tracked_links_go_through_the_click_redirect_and_the_open_pixel_ends_the_body(seed_digest):
    from django.core import signing

    links = ReaderLinks("https://news.example.com/p/x/", "https://news.example.com/u/x/", reader_ref="REF42")
    rendered = variant_render(seed_digest, None, links)
    document = parse_html(rendered.html)
    item_links = [a.get("href") for a in document.find_class("rm")]
    assert len(item_links) == Item.objects.filter(digest=seed_digest).count()
    first = Item.objects.filter(digest=seed_digest).order_by("category__position", "position").first()  # the lead
    href = item_links[0]
    assert href.startswith("https://news.example.com/r/") and href.endswith("/?r=REF42")
    token = href.removeprefix("https://news.example.com/r/").split("/")[0]
    assert signing.loads(token, salt="digests.click") == [seed_digest.pk, first.pk]
    assert href in rendered.text and first.source_url not in rendered.text
    pixel = document.body.xpath(".//img")[-1]
    assert pixel.get("src") == "https://news.example.com/o/REF42.gif"
    assert (pixel.get("width"), pixel.get("height"), pixel.get("alt")) == ("1", "1", "")
    assert document.body.xpath("./*")[-1] is pixel


def test_without_tracking_links_go_straight_to_the_source(seed_digest, settings):
    settings.TRACK_CLICKS = False
    settings.TRACK_OPENS = False
    rendered = variant_render(seed_digest, None, ReaderLinks("https://a/p", "https://a/u", "REF42"))
    assert "/r/" not in rendered.html and "REF42" not in rendered.html
    assert not parse_html(rendered.html).xpath("//img")


def test_the_language_switches_the_fixed_text_only(seed_digest):
    english = variant_render(seed_digest, language="en")
    chinese = variant_render(seed_digest, language="zh-hans")
    assert parse_html(english.html).get("lang") == "en"
    assert parse_html(chinese.html).get("lang") == "zh-Hans"
    # The content keeps its own language for screen readers and fonts.
    assert parse_html(english.html).find_class("c")[0].get("lang") == "zh-Hans"


def test_the_plain_text_is_readable_in_a_terminal(full):
    from digests.rendering.lines import text_width

    lines = full.text.splitlines()
    # 76 columns, plus at most one closing CJK punctuation mark that may not start a line.
    assert all(text_width(line) <= 78 for line in lines if "://" not in line)
    assert max(text_width(line) for line in lines) > 60  # long paragraphs are filled, not chopped short
    assert "==== 政策与监管 ====" in lines
    assert "  - 该条例是江苏省2026年拟安排的13件正式立法项目之一。" in lines
    assert "<" not in full.text  # no markup scraped from the HTML
