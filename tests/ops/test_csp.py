"""A strict Content-Security-Policy on the public pages and the admin: no inline script anywhere (issue 11.11)."""

from __future__ import annotations

import datetime
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from digests.links import reader_path
from digests.models import Digest
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.styles, self.style_attributes, self.handlers = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        if tag == "style":
            self.styles.append(attrs)
        if "style" in attrs:
            self.style_attributes.append((tag, attrs["style"]))
        self.handlers += [(tag, name) for name in attrs if name.startswith("on")]


def _check_page(response):
    assert response.status_code in (200, 404), response.status_code
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    page = Elements()
    page.feed(response.content.decode())
    # Every script is a file; every <style> block carries this response's nonce; no inline styles or handlers.
    assert [s for s in page.scripts if not s.get("src")] == []
    nonces = {value.removeprefix("'nonce-").rstrip("'") for value in policy["style-src"] if value.startswith("'nonce-")}
    assert all(style.get("nonce") in nonces for style in page.styles), (page.styles, nonces)
    assert page.style_attributes == [] and page.handlers == []
    return page


@pytest.fixture
def sent_seed(seed_digest):
    Digest.objects.filter(pk=seed_digest.pk).update(status=Digest.Status.SENT, send_finished_at=timezone.now())
    return seed_digest


def test_public_pages_send_a_strict_policy_and_have_no_inline_script(client, sent_seed):
    reader = make_reader("reader@example.com")
    for url in [
        "/subscribe/",
        "/archive/",
        f"/archive/{sent_seed.issue_date.isoformat()}/",
        reader_path(reader.key, "preferences"),
        reader_path(reader.key, "unsubscribe"),
        reader_path(reader.key, "confirm"),
        "/no-such-page/",
    ]:
        _check_page(client.get(url))


def test_admin_pages_send_the_policy_and_have_no_inline_script(admin_client, seed_digest):
    pages = [
        reverse("admin:index"),
        reverse("admin:digests_digest_changelist"),
        reverse("admin:digests_digest_change", args=[seed_digest.pk]),
        reverse("admin:digests_digest_add"),
        reverse("admin:digests_digest_preview", args=[seed_digest.pk]),
        reverse("admin:digests_digest_sending", args=[seed_digest.pk]),
        reverse("admin:digests_digest_import"),
        reverse("admin:digests_subscriber_changelist"),
    ]
    for url in pages:
        _check_page(admin_client.get(url))


def test_the_login_page_has_the_policy_too(client):
    _check_page(client.get("/admin/login/"))


def test_the_sending_page_loads_its_progress_script_from_a_static_file(admin_client, seed_digest):
    Digest.objects.filter(pk=seed_digest.pk).update(status=Digest.Status.SENDING, send_started_at=timezone.now())
    response = admin_client.get(reverse("admin:digests_digest_sending", args=[seed_digest.pk]))
    page = _check_page(response)
    assert [s for s in page.scripts if s["src"].endswith("digests/admin/sending.js")]
    html = response.content.decode()
    progress_url = reverse("admin:digests_digest_progress", args=[seed_digest.pk])
    assert f'data-progress-url="{progress_url}"' in html and 'data-status="sending"' in html


def test_the_email_preview_keeps_its_own_narrower_policy(admin_client, seed_digest):
    response = admin_client.get(reverse("admin:digests_digest_preview_email", args=[seed_digest.pk]))
    assert response["Content-Security-Policy"].startswith("default-src 'none'")
    assert re.search(r"frame-ancestors 'self'", response["Content-Security-Policy"])


def test_an_old_digest_in_the_archive_needs_no_inline_style(client, sent_seed):
    # The archive renders the email's content blocks with the page's stylesheet, not premailer's style attributes.
    Digest.objects.filter(pk=sent_seed.pk).update(issue_date=datetime.date(2026, 1, 2))
    _check_page(client.get("/archive/2026-01-02/"))
