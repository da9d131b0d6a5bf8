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


def _both(settings_csp=None, *, path="/subscribe/", read_nonce=True, decorate=None, status=200):
    """The CSP headers of django-csp's middleware and of ours for the same request and nonce."""
    from csp.middleware import CSPMiddleware as Theirs
    from django.http import HttpResponse
    from django.test import RequestFactory

    from digests.ops.csp import CSPMiddleware as Ours

    request = RequestFactory().get(path)

    def view(request):
        response = HttpResponse(f"<style nonce='{request.csp_nonce}'></style>" if read_nonce else "", status=status)
        for name, value in (decorate or {}).items():
            setattr(response, name, value)
        return response

    ours = Ours(view)(request)
    nonce = getattr(request, "_csp_nonce", None)
    again = RequestFactory().get(path)
    if nonce:
        again._csp_nonce = nonce
    theirs = Theirs(view)(again)
    headers = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")
    return [ours.get(h) for h in headers], [theirs.get(h) for h in headers], nonce


def test_the_policy_built_once_is_django_csps_with_this_responses_nonce():
    ours, theirs, nonce = _both()
    assert ours == theirs and ours[0] and f"'nonce-{nonce}'" in ours[0]
    ours, theirs, nonce = _both(read_nonce=False)
    assert ours == theirs and nonce is None and "nonce-" not in ours[0]


def test_each_response_has_its_own_nonce_in_its_header(client):
    first, second = client.get("/subscribe/"), client.get("/subscribe/")
    nonces = [re.search(r"'nonce-([^']+)'", r["Content-Security-Policy"]).group(1) for r in (first, second)]
    assert nonces[0] != nonces[1]
    for response, nonce in zip((first, second), nonces, strict=True):
        assert f'nonce="{nonce}"' in response.content.decode()


def test_a_changed_policy_setting_shows_in_the_next_response(settings):
    from csp.constants import NONCE

    _both()
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"], "style-src": ["'self'", NONCE]}}
    ours, theirs, nonce = _both()
    # django-csp orders the directives as a set of their names does (per process): compare them as a set.
    assert ours == theirs and "default-src 'none'" in ours[0].split("; ") and f"'nonce-{nonce}'" in ours[0]


def test_report_only_and_excluded_prefixes_as_django_csp_has_them(settings):
    from csp.constants import NONCE, SELF

    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
        "EXCLUDE_URL_PREFIXES": ["/admin/"],
        "DIRECTIVES": {"script-src": [SELF, NONCE], "report-uri": "/csp-report/"},
    }
    for path in ("/subscribe/", "/admin/login/"):
        ours, theirs, _nonce = _both(path=path)
        assert ours == theirs
    assert _both(path="/subscribe/")[0][1] and _both(path="/admin/login/")[0][1] is None


def test_a_views_own_policy_and_debug_error_pages_go_through_django_csp(settings):
    ours, theirs, nonce = _both(decorate={"_csp_update": {"img-src": ["https://images.example"]}})
    assert ours == theirs and "https://images.example" in ours[0]
    ours, theirs, _nonce = _both(decorate={"_csp_exempt": True})
    assert ours == theirs == [None, None]
    settings.DEBUG = True
    ours, theirs, _nonce = _both(status=500)
    assert ours == theirs == [None, None]
