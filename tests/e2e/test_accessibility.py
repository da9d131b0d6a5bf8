"""axe-core (WCAG 2.1 A and AA rules) in Chromium over the email in both colour schemes and every public
page: no serious or critical violation, contrast included."""

import json

import pytest
from django.core import mail

from digests.content.services import digest_transition
from digests.links import reader_path
from digests.models import Category, Subscriber
from digests.readers.signup import subscriber_signup
from digests.rendering.render import variant_render
from tests.helpers.node import node_modules_path

pytestmark = pytest.mark.django_db

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _violations(chromium, html: str, *, scheme: str = "light", width: int = 600) -> list[dict]:
    axe = node_modules_path("axe-core") / "axe.min.js"
    page = chromium.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    try:
        page.set_content(html, wait_until="load")
        page.add_script_tag(path=str(axe))
        result = page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    finally:
        page.close()
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"][:3]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("fixture", ["seed_digest", "hard_digest", "weekly_digest"])
def test_the_email_passes_axe_in_both_colour_schemes(fixture, request):
    digest = request.getfixturevalue(fixture)
    emails = {language: variant_render(digest, language=language).html for language in ("zh-hans", "en")}
    chromium = request.getfixturevalue("chromium")
    found = {}
    for language, html in emails.items():
        for scheme in ("light", "dark"):
            for width in (600, 375):
                violations = _violations(chromium, html, scheme=scheme, width=width)
                if violations:
                    found[f"{language} {scheme} {width}px"] = violations
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


@pytest.fixture
def pages(client, on_commit, seed_digest):
    categories = list(Category.objects.all())
    for status in ("sending", "sent"):
        digest_transition(seed_digest, to=status)
    on_commit(subscriber_signup, email="reader@example.com", categories=categories[:1], language="en")
    pending = Subscriber.objects.get(email="reader@example.com")
    active = Subscriber.objects.create(email="active@example.com", status="active")
    active.categories.set(categories)
    assert mail.outbox
    responses = {
        "signup": client.get("/subscribe/"),
        "signup with errors": client.post("/subscribe/", {"email": "not an address", "categories": []}),
        "archive": client.get("/archive/"),
        "issue page": client.get("/archive/2026-02-06/"),
        "preferences": client.get(reader_path(active.key, "preferences")),
        "preferences with errors": client.post(reader_path(active.key, "preferences"), {"timezone": "Mars/Base"}),
        "unsubscribe": client.get(reader_path(active.key, "unsubscribe")),
        "confirmation": client.get(reader_path(pending.key, "confirm")),
        "switched to weekly": client.post(reader_path(active.key, "unsubscribe") + "weekly/"),
    }
    return {name: (response.status_code, response.content.decode()) for name, response in responses.items()}


def test_every_public_page_passes_axe(pages, request):
    chromium = request.getfixturevalue("chromium")
    found = {}
    for name, (status, html) in pages.items():
        assert status in (200, 400), (name, status)
        for scheme in ("light", "dark"):
            violations = _violations(chromium, html, scheme=scheme)
            if violations:
                found[f"{name} ({scheme})"] = violations
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
    # The error lists stay lists: the alert role sits on a wrapper, not on the <ul>.
    assert '<ul class="errorlist" role="alert"' not in pages["signup with errors"][1]
    assert 'role="alert"' in pages["signup with errors"][1]


def test_the_check_would_catch_the_old_accent_on_text(seed_digest, settings, request):
    """The seed's #1677ff on white is 4.1:1: used for text and links it fails, which is why it is decoration only."""
    settings.BRAND_ACCENT_TEXT_COLOR = "#1677ff"
    html = variant_render(seed_digest).html
    chromium = request.getfixturevalue("chromium")
    assert "color-contrast" in [v["id"] for v in _violations(chromium, html)]


def test_the_issue_page_is_the_emails_design_and_fits_a_phone(pages, request):
    chromium = request.getfixturevalue("chromium")
    page = chromium.new_page(viewport={"width": 375, "height": 800})
    page.set_content(pages["issue page"][1], wait_until="load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator("h1").inner_text() == "AI 行业动态"
    assert page.locator(".lt").inner_text() == "江苏省拟立法促进人工智能产业发展"
    page.close()
