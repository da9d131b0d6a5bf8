"""The admin and the public pages work in real Chromium under the Content-Security-Policy (issue 11.11).

Chromium reports every blocked script, style or frame as a console error starting
"Refused to …"; the pages must produce none, and their scripts must still run.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from digests.content.digest_format import digest_parse
from digests.content.services import digest_import
from digests.models import Digest
from tests.helpers.digest_files import SEED_PATH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_with_violations(chromium):
    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 1600})
    page.set_default_timeout(10_000)
    violations = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    yield page, violations
    page.close()


def test_the_admin_works_in_chromium_under_the_policy(page_with_violations, live_server, django_user_model, settings):
    settings.LANGUAGE_CODE = "en"
    page, violations = page_with_violations
    digest = digest_import(digest_parse(SEED_PATH.read_bytes()))
    django_user_model.objects.create_superuser(username="chief", password="pw-chief-123", email="chief@example.com")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "chief")
    page.fill("#id_password", "pw-chief-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/digests/digest/")
    page.goto(f"{live_server.url}/admin/digests/digest/{digest.pk}/change/")
    # The item editor's script ran: key points became one input each.
    assert page.locator("ol.key-point-list input.key-point").count() > 0

    page.goto(f"{live_server.url}/admin/digests/digest/{digest.pk}/preview/")
    frame = page.frame_locator("iframe")
    assert frame.locator("body").inner_text()  # the preview frame loaded under its own policy

    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.SENDING, send_started_at=timezone.now())
    page.goto(f"{live_server.url}/admin/digests/digest/{digest.pk}/sending/")
    # The progress script (a static file) polls the progress JSON and writes the status.
    with page.expect_response(lambda r: r.url.endswith("/sending/progress.json"), timeout=10_000):
        pass
    # expect() polls with Playwright's own selector engine; a string predicate would be eval'd,
    # which this very policy forbids.
    expect(page.locator("#p-status")).to_have_text("sending")

    assert violations == []


def test_the_public_pages_work_in_chromium_under_the_policy(page_with_violations, live_server, settings):
    settings.LANGUAGE_CODE = "en"
    page, violations = page_with_violations
    digest = digest_import(digest_parse(SEED_PATH.read_bytes()))
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.SENT, send_finished_at=timezone.now())

    for path in ["/subscribe/", "/archive/", "/archive/2026-02-06/", "/no-such-page/"]:
        page.goto(live_server.url + path)
        # The page's own <style nonce> applied: the header is not the browser's default colour.
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"

    assert violations == []
