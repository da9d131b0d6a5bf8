"""Pre-send checks show an editor what is wrong before a digest goes out (issue 3)."""

from digests.models import Category, Item
from digests.rendering.presend import CheckProblem, digest_check, digest_check_errors

# What the seed itself is warned about: no editor subject or preheader, and two http:// sources.
SEED_WARNINGS = {"no_subject", "no_preheader", "http_source"}


def _codes(problems: list[CheckProblem]) -> list[tuple[str, str]]:
    return [(problem.level, problem.code) for problem in problems if problem.code not in SEED_WARNINGS]


def _refresh(digest):
    from digests.models import Digest

    return Digest.objects.get(pk=digest.pk)


def test_the_seed_digest_passes_with_warnings_about_its_defaults_and_http_sources(seed_digest):
    problems = digest_check(seed_digest)
    assert digest_check_errors(seed_digest) == []
    assert sorted(p.code for p in problems) == ["http_source", "http_source", "no_preheader", "no_subject"]
    assert "AI 行业动态 2/6｜江苏省拟立法促进人工智能产业发展" in next(p for p in problems if p.code == "no_subject").message
    assert all(p.level == "warning" for p in problems)


def test_an_item_without_a_source_is_an_error(seed_digest):
    item = Item.objects.filter(digest=seed_digest).first()
    Item.objects.filter(pk=item.pk).update(source_url="")
    problems = digest_check(_refresh(seed_digest))
    assert ("error", "no_source") in _codes(problems)
    problem = next(p for p in problems if p.code == "no_source")
    assert problem.item_id == item.pk and item.title in problem.message
    assert digest_check_errors(_refresh(seed_digest)) == [problem]


def test_a_non_http_source_is_an_error(seed_digest):
    item = Item.objects.filter(digest=seed_digest).first()
    Item.objects.filter(pk=item.pk).update(source_url="javascript:alert(1)")
    problems = digest_check(_refresh(seed_digest))
    assert ("error", "bad_source") in _codes(problems)


def test_duplicate_source_urls_are_a_warning_naming_both_items(seed_digest):
    first, second = Item.objects.filter(digest=seed_digest)[:2]
    Item.objects.filter(pk=second.pk).update(source_url=first.source_url)
    problems = digest_check(_refresh(seed_digest))
    duplicate = [p for p in problems if p.code == "duplicate_source"]
    assert len(duplicate) == 1 and duplicate[0].level == "warning" and duplicate[0].item_id == second.pk
    assert first.title in duplicate[0].message and second.title in duplicate[0].message
    assert digest_check_errors(_refresh(seed_digest)) == []


def test_an_active_category_without_items_is_a_warning(seed_digest):
    Category.objects.create(name="机器人")
    Category.objects.create(name="已停用", is_active=False)
    problems = digest_check(_refresh(seed_digest))
    assert _codes(problems) == [("warning", "empty_category")]
    assert "机器人" in problems[0].message


def test_a_subject_over_60_columns_is_a_warning(seed_digest):
    seed_digest.subject = "很长的标题" * 7  # 35 wide characters: 70 columns
    seed_digest.save()
    assert ("warning", "long_subject") in _codes(digest_check(seed_digest))


def test_an_email_over_the_size_budget_is_an_error(seed_digest, settings):
    settings.EMAIL_SIZE_BUDGET_BYTES = 10_000
    problems = digest_check(seed_digest)
    assert _codes(problems) == [("error", "too_big")]
    assert "10000" in problems[0].message


def test_a_digest_without_items_is_an_error(db):
    import datetime

    from digests.models import Digest

    digest = Digest.objects.create(issue_date=datetime.date(2026, 2, 7), title="空")
    assert ("error", "no_items") in _codes(digest_check(digest))


def test_errors_come_before_warnings(seed_digest):
    Category.objects.create(name="机器人")
    item = Item.objects.filter(digest=seed_digest).last()
    Item.objects.filter(pk=item.pk).update(source_url="")
    levels = [p.level for p in digest_check(_refresh(seed_digest))]
    assert levels == sorted(levels, key=lambda level: level != "error") and levels[0] == "error"


def test_an_editor_subject_and_preheader_silence_the_default_warnings(seed_digest):
    seed_digest.subject = "AI 行业动态：江苏拟立法"
    seed_digest.preheader = "今日要闻"
    seed_digest.save()
    codes = [p.code for p in digest_check(_refresh(seed_digest))]
    assert "no_subject" not in codes and "no_preheader" not in codes


def test_a_preheader_that_is_too_long_is_a_warning(seed_digest):
    seed_digest.subject = "主题"
    seed_digest.preheader = "很长" * 60
    seed_digest.save()
    assert ("warning", "long_preheader") in _codes(digest_check(_refresh(seed_digest)))


def test_http_links_unbalanced_markup_a_lead_without_summary_and_images_are_warned_about(seed_digest):
    lead = Item.objects.filter(digest=seed_digest).order_by("category__position", "position").first()
    Item.objects.filter(pk=lead.pk).update(summary="")
    other = Item.objects.filter(digest=seed_digest).exclude(pk=lead.pk).first()
    Item.objects.filter(pk=other.pk).update(
        summary="见 [报告](http://example.com/report) 与 **未闭合",
        key_points=["`code 未闭合"],
        image_url="http://example.com/a.png",
        image_alt="",
    )
    problems = digest_check(_refresh(seed_digest))
    by_code = {}
    for problem in problems:
        by_code.setdefault(problem.code, []).append(problem)
    assert by_code["lead_without_summary"][0].item_id == lead.pk
    assert by_code["http_link"][0].item_id == other.pk and "http://example.com/report" in by_code["http_link"][0].message
    assert len(by_code["unbalanced_markup"]) == 2
    assert by_code["image_not_https"][0].item_id == other.pk
    assert by_code["image_without_alt"][0].item_id == other.pk
    assert all(p.level == "warning" for code in ("lead_without_summary", "http_link", "unbalanced_markup") for p in by_code[code])
