"""Spec, in real Chromium: the editor's desk. Duplicating an issue, paste-aware fields, the compact editor."""

from __future__ import annotations

import pytest

from digests.content.digest_format import digest_parse
from digests.content.services import digest_import
from digests.models import Digest
from tests.helpers.digest_files import SEED_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(chromium, live_server, django_user_model, settings):
    """A logged-in editor-in-chief, the seed issue, and the page."""
    settings.LANGUAGE_CODE = "en"
    digest = digest_import(digest_parse(SEED_PATH.read_bytes()))
    django_user_model.objects.create_superuser(username="chief", password="pw-chief-123", email="chief@example.com")
    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "chief")
    page.fill("#id_password", "pw-chief-123")
    page.click("input[type=submit]")
    page.base = live_server.url
    page.change_url = f"{live_server.url}/admin/digests/digest/{digest.pk}/change/"
    yield page, digest
    page.close()


def test_duplicating_yesterdays_issue_opens_tomorrows_draft(desk):
    page, digest = desk
    page.goto(page.change_url)

    page.click("a.duplicatelink")
    page.check("input[name=with_items]")
    page.click(".digest-duplicate input[type=submit]")
    page.wait_for_selector(".messagelist .success")

    copy = Digest.objects.get(issue_date="2026-02-07")
    assert page.url.endswith(f"/admin/digests/digest/{copy.pk}/change/")
    assert copy.status == Digest.Status.DRAFT and copy.items.count() == 14
    assert page.locator("#id_issue_date").input_value() == "2026-02-07"
