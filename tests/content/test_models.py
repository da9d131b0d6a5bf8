"""The content model's rules: categories, digests and their life cycle, items."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from digests.content.services import TransitionError, digest_transition
from digests.models import Category, Digest, Item

# These tests read English messages; the default language's translations must not change them.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_chinese_category_names_get_ascii_slugs():
    category = Category.objects.create(name="政策与监管")
    assert category.slug == "zheng-ce-yu-jian-guan"
    assert category.slug.isascii()


def test_slugs_stay_unique_and_editable():
    first = Category.objects.create(name="模型")
    second = Category.objects.create(name="模 型")  # same pinyin
    assert first.slug == "mo-xing"
    assert second.slug == "mo-xing-2"
    second.slug = "models"
    second.save()
    second.refresh_from_db()
    assert second.slug == "models"


def test_non_ascii_slugs_are_rejected_by_validation():
    category = Category(name="测试", slug="测试")
    with pytest.raises(ValidationError) as error:
        category.full_clean()
    assert "slug" in error.value.message_dict


def test_categories_are_ordered_by_position():
    Category.objects.create(name="b", position=2)
    Category.objects.create(name="a", position=1)
    assert [c.name for c in Category.objects.all()] == ["a", "b"]


def test_one_digest_per_issue_date():
    Digest.objects.create(issue_date=datetime.date(2026, 2, 6), title="AI 行业动态")
    with pytest.raises(IntegrityError):
        Digest.objects.create(issue_date=datetime.date(2026, 2, 6), title="again")


def test_item_source_must_be_an_http_link():
    digest = Digest.objects.create(issue_date=datetime.date(2026, 2, 6), title="t")
    category = Category.objects.create(name="c")
    item = Item(digest=digest, category=category, title="t", summary="s", source_name="n", source_url="javascript:alert(1)")
    with pytest.raises(ValidationError) as error:
        item.full_clean()
    assert "source_url" in error.value.message_dict
    item.source_url = "ftp://example.com/file"
    with pytest.raises(ValidationError):
        item.full_clean()
    item.source_url = "https://example.com/a"
    item.full_clean()


class TestLifeCycle:
    @pytest.fixture
    def digest(self):
        return Digest.objects.create(issue_date=datetime.date(2026, 2, 6), title="t")

    def test_a_draft_is_scheduled_then_sent(self, digest):
        digest_transition(digest, to=Digest.Status.SCHEDULED)
        digest_transition(digest, to=Digest.Status.SENDING)
        digest_transition(digest, to=Digest.Status.SENT)
        digest.refresh_from_db()
        assert digest.status == "sent"
        assert digest.send_started_at and digest.send_finished_at

    @pytest.mark.parametrize(
        "path",
        [["sent"], ["scheduled", "sent"], ["cancelled", "sending"], ["scheduled", "sending", "sent", "draft"]],
    )
    def test_forbidden_moves_are_refused(self, digest, path):
        with pytest.raises(TransitionError):
            for status in path:
                digest_transition(digest, to=status)

    def test_a_stale_copy_cannot_win_a_race(self, digest):
        first = Digest.objects.get(pk=digest.pk)
        second = Digest.objects.get(pk=digest.pk)
        digest_transition(first, to=Digest.Status.SENDING)
        with pytest.raises(TransitionError, match="someone else"):
            digest_transition(second, to=Digest.Status.SENDING)
        assert Digest.objects.get(pk=digest.pk).status == "sending"


def test_editorial_groups_exist_with_the_right_powers():
    from django.contrib.auth.models import Group

    editor = set(Group.objects.get(name="Editor").permissions.values_list("codename", flat=True))
    publisher = set(Group.objects.get(name="Publisher").permissions.values_list("codename", flat=True))
    assert {"add_digest", "change_digest", "change_item"} <= editor
    assert "send_digest" not in editor
    assert "send_digest" in publisher
    assert editor < publisher
