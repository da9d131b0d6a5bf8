"""Spec for `manage.py bootstrap`, the step of `make run` that loads the demo digest and the admin user."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from digests.models import Category, Digest, Item

pytestmark = pytest.mark.django_db


def bootstrap() -> str:
    out = io.StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _no_admin_password(monkeypatch):
    for name in ("ADMIN_PASSWORD", "ADMIN_USERNAME", "ADMIN_EMAIL"):
        monkeypatch.delenv(name, raising=False)


def printed_password(output: str) -> str:
    match = re.search(r"with password: (\S+)", output)
    assert match, output
    return match.group(1)


def test_an_empty_database_gets_the_demo_digest_and_an_admin_whose_password_is_printed():
    output = bootstrap()

    digest = Digest.objects.get()
    assert (digest.title, digest.issue_date.isoformat(), digest.items.count()) == ("AI 行业动态", "2026-02-06", 14)
    assert Category.objects.count() == 5
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(printed_password(output))


def test_it_uses_admin_password_from_the_environment_without_printing_it(monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "s3cret-from-env-易记")

    output = bootstrap()

    assert get_user_model().objects.get(username="admin").check_password("s3cret-from-env-易记")
    assert "s3cret-from-env" not in output
    assert "ADMIN_PASSWORD" in output


def test_running_it_again_changes_nothing_and_prints_no_password():
    first = bootstrap()
    password = printed_password(first)
    counts = (Digest.objects.count(), Item.objects.count(), Category.objects.count(), get_user_model().objects.count())

    second = bootstrap()

    assert "password:" not in second
    assert "already" in second
    assert (Digest.objects.count(), Item.objects.count(), Category.objects.count(), get_user_model().objects.count()) == counts
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_a_database_with_content_gets_no_demo_data():
    Category.objects.create(name="自己的分类")

    output = bootstrap()

    assert Digest.objects.count() == 0
    assert list(Category.objects.values_list("name", flat=True)) == ["自己的分类"]
    assert "not loaded" in output


def test_an_existing_admin_user_is_left_alone(django_user_model):
    django_user_model.objects.create_user(username="admin", password="mine-already")

    output = bootstrap()

    assert "password:" not in output
    assert get_user_model().objects.get(username="admin").check_password("mine-already")
