"""The unsubscribe page in real headless Chromium: one click moves a tired reader to the weekly edition instead.

No login and no script: the page's own form, its CSRF token and the signed
link are all it takes. The plain unsubscribe button still works at once.
"""

import re

import pytest

from digests.links import reader_url
from digests.models import FrequencyChange, Subscriber
from tests.helpers.readers import make_reader

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.violations = []
    page.on("console", lambda m: page.violations.append(m.text) if "Content Security Policy" in m.text else None)
    yield page
    context.close()


def test_a_daily_reader_switches_to_the_weekly_edition_in_one_click(live_server, settings, page):
    settings.SITE_URL = live_server.url
    reader = make_reader("tired@example.com", frequency="daily", weekly_day="sat")

    page.goto(reader_url(reader.key, "unsubscribe"))
    page.get_by_role("heading", name="Unsubscribe", exact=True).wait_for()
    assert page.get_by_role("button", name="Unsubscribe").is_visible()
    assert page.get_by_text("every Saturday").is_visible()
    page.get_by_role("button", name="Switch to the weekly edition").click()

    page.get_by_role("heading", name="You will get the weekly edition").wait_for()
    assert "every Saturday" in page.locator("main").inner_text()
    reader.refresh_from_db()
    assert (reader.status, reader.frequency, reader.weekly_day) == ("active", "weekly", "sat")
    assert list(FrequencyChange.objects.values_list("old", "new", "via")) == [("daily", "weekly", "unsubscribe_page")]

    # The confirmation links to the preference centre, where the weekday can change.
    page.get_by_role("link", name="Choose another weekday or change your categories").click()
    page.get_by_role("heading", name="Your subscription").wait_for()
    assert page.get_by_role("radio", name="Weekly", exact=True).is_checked()
    page.get_by_label("Weekly edition on").select_option("sun")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Your changes are saved.").wait_for()
    reader.refresh_from_db()
    assert (reader.frequency, reader.weekly_day) == ("weekly", "sun")

    # Back on the unsubscribe page a weekly reader is offered only the unsubscribe.
    page.goto(reader_url(reader.key, "unsubscribe"))
    assert page.get_by_role("button", name="Switch to the weekly edition").count() == 0
    assert page.violations == []


def test_the_unsubscribe_button_next_to_it_still_unsubscribes_at_once(live_server, settings, page):
    settings.SITE_URL = live_server.url
    reader = make_reader("leaving@example.com", frequency="both")
    page.goto(reader_url(reader.key, "unsubscribe"))
    page.get_by_role("button", name="Unsubscribe", exact=True).click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert re.search(r"/unsubscribe/[^/]+/$", page.url)
    reader.refresh_from_db()
    assert (reader.status, reader.frequency) == (Subscriber.Status.UNSUBSCRIBED, "both")
    assert not FrequencyChange.objects.exists()
