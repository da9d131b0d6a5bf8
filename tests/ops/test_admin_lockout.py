"""Admin sign-in is throttled by django-axes: per account and per address, with a clear page and an admin unlock (issue 11.7)."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.helpers.paths import ROOT

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="editor1", password="right-password-1", is_staff=True)


def _login(client, username, password, ip="203.0.113.5"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_fifteen_wrong_passwords_lock_the_account_and_the_right_one_no_longer_works(client, staff_user, settings, english):
    settings.AXES_FAILURE_LIMIT = 5
    statuses = [_login(client, "editor1", f"guess-{n}").status_code for n in range(15)]
    assert statuses[:4] == [200] * 4  # the login form again, with its error
    assert set(statuses[4:]) == {429}

    response = _login(client, "editor1", "right-password-1")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Sign-in locked" in page and "after 5 failed sign-ins" in page and "Try again in 30 minutes" in page
    assert not _logged_in(client)


def test_the_lock_out_page_is_translated(client, staff_user, limit):
    for n in range(limit):
        _login(client, "editor1", f"guess-{n}")
    page = client.post(LOGIN, {"username": "editor1", "password": "x"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "登录已锁定" in page


def test_failures_against_several_accounts_from_one_address_lock_that_address(client, staff_user, django_user_model, limit):
    django_user_model.objects.create_user(username="other", password="other-password-1", is_staff=True)
    for n in range(limit):
        _login(client, f"nobody{n}", "guess", ip="198.51.100.7")

    assert _login(client, "other", "other-password-1", ip="198.51.100.7").status_code == 429
    assert _login(client, "other", "other-password-1", ip="198.51.100.8").status_code == 302  # another address is not locked


def test_failures_from_several_addresses_lock_the_account(client, staff_user, limit):
    for n in range(limit):
        _login(client, "editor1", "guess", ip=f"192.0.2.{n + 1}")

    assert _login(client, "editor1", "right-password-1", ip="192.0.2.200").status_code == 429


def test_a_success_before_the_limit_resets_the_count(client, staff_user, limit):
    for n in range(limit - 1):
        _login(client, "editor1", f"guess-{n}")
    assert _login(client, "editor1", "right-password-1").status_code == 302
    client.logout()
    for n in range(limit - 1):
        _login(client, "editor1", f"guess-{n}")
    assert _login(client, "editor1", "right-password-1").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, staff_user, limit, settings):
    for n in range(limit):
        _login(client, "editor1", f"guess-{n}")
    assert _login(client, "editor1", "right-password-1").status_code == 429

    AccessAttempt.objects.update(
        attempt_time=datetime.datetime.now(datetime.UTC) - settings.AXES_COOLOFF_TIME - datetime.timedelta(minutes=1)
    )

    assert _login(client, "editor1", "right-password-1").status_code == 302


def test_an_admin_unlocks_an_account_from_the_admin(client, staff_user, admin_user, limit):
    for n in range(limit):
        _login(client, "editor1", f"guess-{n}")
    assert _login(client, "editor1", "right-password-1").status_code == 429

    admin = client.__class__()
    admin.force_login(admin_user)
    listing = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and b"editor1" in listing.content
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    admin.post(
        reverse("admin:axes_accessattempt_changelist"), {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )

    assert AccessAttempt.objects.count() == 0
    assert _login(client, "editor1", "right-password-1").status_code == 302


def test_the_limit_and_cool_off_are_read_from_the_environment():
    def settings_of(**env):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ADMIN_LOGIN_")}
        code = "from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()))"
        return subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=ROOT,
            env={**clean, "DJANGO_SETTINGS_MODULE": "newsletter.settings", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert settings_of().stdout.split() == ["5", "1800"]
    assert settings_of(ADMIN_LOGIN_FAILURE_LIMIT="10", ADMIN_LOGIN_COOLOFF_MINUTES="5").stdout.split() == ["10", "300"]
    refused = settings_of(ADMIN_LOGIN_FAILURE_LIMIT="lots")
    assert refused.returncode != 0 and "ADMIN_LOGIN_FAILURE_LIMIT" in refused.stderr
