"""An issue's own subject, preheader, 导语, section order and item images travel through the text format."""

import pytest

from digests.content.digest_format import DigestFormatError, digest_format, digest_parse
from digests.content.services import digest_export, digest_import
from digests.models import Item
from tests.helpers.digest_files import HARD_PATH, SEED_PATH, VALID_LINES, digest_bytes

pytestmark = pytest.mark.django_db


def test_the_seed_still_imports_and_exports_byte_for_byte(seed_digest):
    assert digest_export(seed_digest).encode("utf-8") == SEED_PATH.read_bytes()


def test_a_harder_issue_with_sections_in_a_new_order_round_trips_byte_for_byte(hard_digest):
    # The seed put 政策与监管 before 投融资与并购 before 模型与技术进展; this file reverses them.
    assert digest_export(hard_digest).encode("utf-8") == HARD_PATH.read_bytes()
    assert hard_digest.subject == "AI 行业动态 2/7｜提示注入攻击再现 <script>"
    assert hard_digest.preheader.startswith("今天：一个 `<img src=x onerror=alert(1)>`")
    assert hard_digest.intro.startswith("**周末版**：安全先行。")
    image = Item.objects.get(digest=hard_digest, image_url__startswith="https://")
    assert image.image_alt == "融资发布会现场，三人站在台上"


def test_an_editor_can_change_the_section_order_and_the_export_follows(hard_digest):
    order = list(reversed(hard_digest.section_order))
    hard_digest.section_order = order
    hard_digest.save()
    exported = digest_export(hard_digest)
    names = [line.strip("*") for line in exported.splitlines() if line.startswith("**") and line.endswith("**")]
    assert names == ["模型与技术进展", "政策与监管", "投融资与并购"]
    # Importing the export again keeps that order: the file is the issue's order.
    again = digest_import(digest_parse(exported), replace=True)
    assert digest_export(again) == exported


def test_issue_fields_may_come_in_any_subset_and_only_before_the_first_section():
    lines = [VALID_LINES[0], "", "导语：只有导语。", *VALID_LINES[1:]]
    parsed = digest_parse(digest_bytes(lines))
    assert (parsed.subject, parsed.preheader, parsed.intro) == ("", "", "只有导语。")
    assert digest_parse(digest_format(parsed)) == parsed


def test_a_duplicate_or_empty_issue_field_is_reported_with_its_line():
    lines = [VALID_LINES[0], "", "邮件主题：一", "邮件主题：二", "预览文本：", *VALID_LINES[1:]]
    with pytest.raises(DigestFormatError) as error:
        digest_parse(digest_bytes(lines))
    assert [problem.line for problem in error.value.problems] == [4, 5]


def test_an_image_must_be_a_markdown_image_with_an_http_link():
    for bad in ("图片：https://example.com/a.png", "图片：![图](javascript:alert(1))", "图片：![图](ftp://x/a.png)"):
        with pytest.raises(DigestFormatError) as error:
            digest_parse(digest_bytes([*VALID_LINES, bad]))
        assert [problem.line for problem in error.value.problems] == [10], bad
    parsed = digest_parse(digest_bytes([*VALID_LINES, "图片：![](https://example.com/a.png)"]))
    item = parsed.sections[0].items[0]
    assert (item.image_url, item.image_alt) == ("https://example.com/a.png", "")
