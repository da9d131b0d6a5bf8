"""Inline formatting in 说明, 背景 and 要点: code, bold and links in HTML, readable plain text, nothing else."""

import pytest
from django.test import override_settings

from digests.content.markup import Bold, Code, Link, Text, markup_parse, markup_unbalanced
from digests.links import ReaderLinks
from digests.models import Digest, Item
from digests.rendering.markup import markup_html, markup_text
from digests.rendering.render import IMAGE_HEIGHT, IMAGE_WIDTH, variant_render
from tests.helpers.html import parse_html, visible_text

pytestmark = pytest.mark.django_db


def test_the_three_forms_parse_and_anything_else_stays_text():
    assert markup_parse("用 `x<y` 和 **粗** 见 [报告](https://e.com/a?b=1&c=2)") == (
        Text("用 "),
        Code("x<y"),
        Text(" 和 "),
        Bold((Text("粗"),)),
        Text(" 见 "),
        Link("报告", "https://e.com/a?b=1&c=2"),
    )
    assert markup_parse("[维基](https://en.wikipedia.org/wiki/A_(b))。") == (
        Link("维基", "https://en.wikipedia.org/wiki/A_(b)"),
        Text("。"),
    )
    for literal in ("[x](javascript:alert(1))", "**未闭合", "`未闭合", "[x](https://e.com/a b)"):
        assert markup_parse(literal) == (Text(literal),)
    assert markup_unbalanced("**未闭合 与 `也未闭合") == ["`", "**"]


def test_html_escapes_everything_but_the_three_forms():
    html = markup_html('<script>x</script> `<img src=x onerror="alert(1)">` **<b>b</b>** [<i>i</i>](https://e.com/?a=1&b="2")')
    document = parse_html(f"<p>{html}</p>")
    assert not document.xpath("//script|//img|//b|//i")
    assert document.xpath("//code")[0].text_content() == '<img src=x onerror="alert(1)">'
    assert document.xpath("//strong")[0].text_content() == "<b>b</b>"
    assert 'href="https://e.com/?a=1&amp;b=&quot;2&quot;"' not in html  # a quote ends a link target: not a link
    assert "&lt;script&gt;" in html


def test_plain_text_shows_links_as_text_and_url():
    assert (
        markup_text("见 [报告](https://e.com/a?b=1&c=2) 与 `code` 和 **粗**") == "见 报告 (https://e.com/a?b=1&c=2) 与 code 和 粗"
    )


def test_the_harder_issue_renders_formatting_hostile_text_an_image_and_an_item_without_background(hard_digest):
    rendered = variant_render(hard_digest)
    document = parse_html(rendered.html)
    # Sections in the issue's own order, the first item leading (its one-item section then has no heading).
    contents = " ".join(document.find_class("toc")[0].text_content().split())
    assert contents.endswith("投融资与并购 1 · 政策与监管 1 · 模型与技术进展 1")
    assert [h.text_content() for h in document.find_class("sec")] == ["政策与监管", "模型与技术进展"]
    assert document.find_class("lt")[0].text_content() == "某公司完成 <b>10 亿元</b> 融资 & 估值翻倍"
    # Hostile titles, summaries and key points are text.
    assert not document.xpath("//body//script|//b|//i|//*[@onerror]")
    text = visible_text(rendered.html)
    assert "研究者披露新的提示注入 <script>alert('x')</script> 攻击" in text
    assert '<img src=x onerror="alert(1)">' in [c.text_content() for c in document.xpath("//code")]
    # Links with & and parentheses survive; a javascript: "link" is not one.
    hrefs = [a.get("href") for a in document.xpath("//a")]
    assert "https://fund.example.com/a_(b)" in hrefs
    assert "https://36kr.example.com/p/1?from=a&to=b" in hrefs
    assert not [h for h in hrefs if not h.startswith(("https://", "http://", "#"))]
    assert "[javascript](javascript:alert(1))" in text
    # The unclosed markup stays as typed.
    assert "**粗体 与 `反引号" in text
    # The image: fixed width, explicit dimensions, alt text; never in the plain text.
    (image,) = [img for img in document.xpath("//img") if "images.example.com" in img.get("src")]
    assert (image.get("width"), image.get("height")) == (str(IMAGE_WIDTH), str(IMAGE_HEIGHT))
    assert image.get("alt") == "融资发布会现场，三人站在台上"
    assert "images.example.com" not in rendered.text
    # The item without 背景 has no 背景 label; the others do.
    model_item = document.find_class("it")[-1]
    assert "背景" not in model_item.text_content()
    # The text part: links as "text (url)", code as its text.
    flat = " ".join(rendered.text.split())
    assert "某基金 (https://fund.example.com/a_(b))" in flat
    assert "建议：对工具输出做 escape() 处理。" in flat


@override_settings(TRACK_CLICKS=True, SITE_URL="https://news.example.com")
def test_inline_links_are_tracked_like_sources_and_redirect_to_their_own_target(hard_digest, client):
    links = ReaderLinks("https://news.example.com/p/x/", "https://news.example.com/u/x/", reader_ref="REF42")
    rendered = variant_render(hard_digest, None, links)
    document = parse_html(rendered.html)
    # The intro's links are not an item's; every item's inline link goes through the click redirect.
    inline = [
        a.get("href")
        for a in document.xpath("//td[contains(@class,'lead') or contains(@class,'c ')]//a[contains(@class,'inline-link')]")
    ]
    assert all(h.startswith("https://news.example.com/r/") and h.endswith("/?r=REF42") for h in inline)
    targets = []
    for href in inline:
        response = client.get(href.removeprefix("https://news.example.com"))
        assert response.status_code == 302
        targets.append(response["Location"])
    assert targets == [
        "https://36kr.example.com/p/1?from=a&to=b",
        "https://fund.example.com/a_(b)",
        "https://owasp.example.org/llm?top=10&lang=zh",
        "https://arxiv.example.org/abs/2602.00001",
    ]
    # The text part carries the same tracked links.
    assert all(href in rendered.text for href in inline)


def test_a_forged_link_number_is_a_404(hard_digest, client):
    from digests.links import click_token

    item = Item.objects.get(digest=hard_digest, title__startswith="某公司")
    assert client.get(f"/r/{click_token(hard_digest.pk, item.pk, 2)}/").status_code == 302
    assert client.get(f"/r/{click_token(hard_digest.pk, item.pk, 3)}/").status_code == 404


def test_hostile_image_urls_and_alt_texts_never_reach_the_markup(seed_digest):
    item = Item.objects.filter(digest=seed_digest).order_by("category__position", "position").first()
    hostile = {
        "javascript:alert(1)": False,
        'https://img.example.com/a.png" onerror="alert(1)': False,
        "data:image/png;base64,AAAA": False,
        "https://img.example.com/ok.png?a=1&b=2": True,
    }
    for url, shown in hostile.items():
        # Stored behind the validators' back, as a bad import or API client might.
        Item.objects.filter(pk=item.pk).update(image_url=url, image_alt='"><script>alert(2)</script>')
        rendered = variant_render(Digest.objects.get(pk=seed_digest.pk))
        document = parse_html(rendered.html)
        images = [img for img in document.xpath("//img") if "onerror" in (img.get("src") or "") or img.get("src") == url]
        assert not document.xpath("//body//script|//*[@onerror]")
        assert bool(images) is shown, url
        if shown:
            assert images[0].get("alt") == '"><script>alert(2)</script>'
            assert 'src="https://img.example.com/ok.png?a=1&amp;b=2"' in rendered.html
        assert "javascript:" not in rendered.html and "data:image" not in rendered.html
