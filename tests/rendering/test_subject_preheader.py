"""Each issue's subject and preheader: the editor's, or generated from the issue, always safe to show."""

import pytest

from digests.models import Item
from digests.rendering.lines import text_width
from digests.rendering.render import SUBJECT_MAX_COLUMNS, text_cut, variant_render
from tests.helpers.html import parse_html

pytestmark = pytest.mark.django_db


def test_the_default_subject_carries_the_publication_and_the_lead_and_differs_between_issues(seed_digest, hard_digest):
    hard_digest.subject = ""
    hard_digest.save()
    seed, hard = variant_render(seed_digest).subject, variant_render(hard_digest).subject
    assert seed.startswith("AI 行业动态 2/6｜") and "江苏省拟立法" in seed
    assert hard.startswith("AI 行业动态 2/7｜某公司完成")
    assert seed != hard
    assert text_width(seed) <= SUBJECT_MAX_COLUMNS and text_width(hard) <= SUBJECT_MAX_COLUMNS


def test_a_long_lead_title_is_cut_to_60_columns_with_an_ellipsis(seed_digest):
    lead = Item.objects.filter(digest=seed_digest).order_by("category__position", "position").first()
    Item.objects.filter(pk=lead.pk).update(title="很长的标题" * 20)
    seed_digest.save()
    subject = variant_render(seed_digest).subject
    assert subject.endswith("…") and text_width(subject) <= SUBJECT_MAX_COLUMNS
    assert text_width(subject) >= SUBJECT_MAX_COLUMNS - 2  # cut, not truncated short


def test_the_editors_lead_choice_drives_the_default_subject_and_preheader(seed_digest):
    lead = Item.objects.get(digest=seed_digest, title="OpenAI发布新一代编程模型GPT-5.3-Codex")
    seed_digest.lead_item = lead
    seed_digest.save()
    rendered = variant_render(seed_digest)
    assert rendered.subject == "AI 行业动态 2/6｜OpenAI发布新一代编程模型GPT-5.3-Codex"
    assert rendered.preheader.startswith("OpenAI发布了其最新的编程辅助模型GPT-5.3-Codex")
    assert parse_html(rendered.html).find_class("lt")[0].text_content() == lead.title


def test_the_preheader_comes_from_the_intro_without_its_markup(hard_digest):
    hard_digest.preheader = ""
    hard_digest.save()
    preheader = variant_render(hard_digest).preheader
    assert preheader.startswith("周末版：安全先行。提示注入的新变种见 研究报告，")
    assert "**" not in preheader and "https://" not in preheader


def test_a_hostile_summary_is_cut_at_a_character_boundary_and_escaped_whole(seed_digest):
    lead = Item.objects.filter(digest=seed_digest).order_by("category__position", "position").first()
    hostile = "提示注入 <script>alert('x')</script> & &amp; " + "长" * 200
    Item.objects.filter(pk=lead.pk).update(summary=hostile)
    seed_digest.save()
    rendered = variant_render(seed_digest)
    assert rendered.preheader.endswith("…") and len(rendered.preheader) <= 90
    assert rendered.preheader.startswith("提示注入 <script>alert('x')</script> & &amp; 长")
    shown = parse_html(rendered.html).find_class("ph")[0].text_content()
    assert shown.startswith(rendered.preheader)  # the browser reads back exactly the text: nothing cut mid-escape
    assert "<script>" not in rendered.html


@pytest.mark.parametrize(
    "text, columns, expected",
    [
        ("短", 10, "短"),
        ("一二三四五六七八九十", 9, "一二三四…"),
        ("abc def ghi", 8, "abc def…"),
        ("标题，后面", 6, "标题…"),
    ],
)
def test_text_cut(text, columns, expected):
    assert text_cut(text, columns=columns) == expected
