"""The email looks right in a real browser engine on desktops and phones (issue 3)."""

import pytest

from digests.rendering.render import variant_render

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser(email_file, chromium):
    return chromium


@pytest.fixture
def email_file(seed_digest, tmp_path):
    path = tmp_path / "email.html"
    path.write_text(variant_render(seed_digest).html, encoding="utf-8")
    return path


@pytest.mark.parametrize("width, content_width", [(1024, 600), (375, 375)])
def test_the_email_is_600px_on_desktops_and_fluid_on_phones(email_file, browser, width, content_width):
    path = email_file
    page = browser.new_page(viewport={"width": width, "height": 900})
    # Offline: the email must not need anything from the network to render.
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(path.as_uri())
    assert page.evaluate("document.querySelector('.box').getBoundingClientRect().width") == content_width
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    assert not page.is_visible(".ph")
    first_title = page.locator(".lt").first  # the lead story
    assert first_title.is_visible() and first_title.inner_text() == "江苏省拟立法促进人工智能产业发展"
    padding = page.evaluate("getComputedStyle(document.querySelector('.c')).paddingLeft")
    assert padding == ("32px" if width > 620 else "16px")  # the @media override wins thanks to !important


def test_dark_mode_turns_the_page_dark_and_keeps_text_light(email_file, browser):
    page = browser.new_page(viewport={"width": 600, "height": 900}, color_scheme="dark")
    page.goto(email_file.as_uri())
    box = page.evaluate("getComputedStyle(document.querySelector('.box')).backgroundColor")
    text = page.evaluate("getComputedStyle(document.querySelector('.p')).color")
    link = page.evaluate("getComputedStyle(document.querySelector('.a')).color")
    assert box == "rgb(31, 31, 31)" and text == "rgb(232, 232, 232)" and link == "rgb(105, 177, 255)"
