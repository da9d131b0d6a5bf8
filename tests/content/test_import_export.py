"""Spec for the import/export services behind the commands and the admin (digests.content)."""

from __future__ import annotations

import pytest

from digests.content.digest_format import DigestFormatError, digest_parse
from digests.content.services import digest_export, digest_import
from digests.models import Category, Digest, Item
from tests.helpers.digest_files import SEED_PATH, VALID_LINES, digest_bytes

# These tests read labels and messages: English, so translations cannot change them.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def import_lines(lines: list[str], **kwargs) -> Digest:
    return digest_import(digest_parse(digest_bytes(lines)), **kwargs)


def test_the_seed_round_trips_through_the_database(seed_digest):
    exported = digest_export(seed_digest)

    assert exported.rstrip().splitlines() == [line.rstrip() for line in SEED_PATH.read_text("utf-8").rstrip().splitlines()]


def test_items_keep_their_file_order_within_each_category(seed_digest):
    first_section = list(seed_digest.items.filter(category__name="模型与技术进展").values_list("position", "title"))

    assert [position for position, _title in first_section] == [0, 1, 2, 3, 4]
    assert first_section[0][1] == "国内基础大模型密集发布新技术"


def test_the_importing_user_becomes_the_author(django_user_model):
    editor = django_user_model.objects.create_user(username="importer")

    digest = import_lines(VALID_LINES, author=editor)

    assert digest.author == editor


def test_existing_categories_are_reused_not_duplicated(seed_digest):
    lines = list(VALID_LINES)

    import_lines(lines)

    assert Category.objects.filter(name="政策与监管").count() == 1
    assert Category.objects.count() == 5


def test_edits_made_in_the_admin_export_in_the_file_format(seed_digest):
    item = seed_digest.items.first()
    item.summary = "第一段。\n\n第二段。"
    item.key_points = ["要点一", "   ", "要点二"]
    item.save()

    exported = digest_export(seed_digest)

    assert "说明：第一段。 第二段。" in exported
    assert "- 要点一\n- 要点二\n" in exported
    assert digest_parse(exported).sections[0].items[0].key_points == ("要点一", "要点二")


def test_model_validation_errors_become_line_numbered_problems_and_nothing_is_written(seed_digest):
    lines = VALID_LINES + ["", "第二条" + "长" * 300, "说明：说明。", "要点：", "- 一点。", "来源出处：[内网](http://intranet/x)"]
    lines[0] = "AI 行业动态 (2026-03-02)"
    before = (Digest.objects.count(), Item.objects.count(), Category.objects.count())

    with pytest.raises(DigestFormatError) as info:
        import_lines(lines)

    assert {problem.line for problem in info.value.problems} == {11}
    messages = " ".join(problem.message for problem in info.value.problems)
    assert "title" in messages and "source link" in messages
    assert (Digest.objects.count(), Item.objects.count(), Category.objects.count()) == before


def test_replacing_keeps_the_digest_and_its_author(seed_digest, django_user_model):
    seed_digest.author = django_user_model.objects.create_user(username="first")
    seed_digest.save()
    lines = list(VALID_LINES)
    lines[0] = "AI 行业动态 (2026-02-06)"

    digest = import_lines(lines, replace=True, author=django_user_model.objects.create_user(username="second"))

    assert digest.pk == seed_digest.pk
    assert digest.author.username == "first"
    assert Item.objects.filter(digest=digest).count() == 1


WEEKLY_LINES = ["AI 行业动态 (2026-02-07)", "周刊：2026-02-01 至 2026-02-07", *VALID_LINES[1:]]


def test_a_weekly_file_imports_as_the_weekly_edition_beside_the_daily_of_its_last_day():
    daily = import_lines(["AI 行业动态 (2026-02-07)", *VALID_LINES[1:]])

    weekly = import_lines(WEEKLY_LINES)

    assert weekly.pk != daily.pk
    assert (weekly.edition, weekly.period_start.isoformat(), weekly.issue_date.isoformat()) == (
        "weekly",
        "2026-02-01",
        "2026-02-07",
    )
    assert Digest.objects.get(pk=daily.pk).edition == "daily"


def test_an_exported_weekly_imports_again_as_the_same_weekly():
    weekly = import_lines(WEEKLY_LINES)
    exported = digest_export(weekly)

    assert "周刊：2026-02-01 至 2026-02-07" in exported
    with pytest.raises(DigestFormatError, match="a weekly edition ending 2026-02-07 already exists"):
        digest_import(digest_parse(exported))
    again = digest_import(digest_parse(exported), replace=True)

    assert again.pk == weekly.pk
    assert (again.edition, again.period_start.isoformat()) == ("weekly", "2026-02-01")
    assert digest_export(again) == exported
