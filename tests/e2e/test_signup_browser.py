"""A reader's whole journey in real headless Chromium, with mail through a real SMTP server.

Signup form → confirmation email (Celery task, SMTP to aiosmtpd) → confirm
button → preference centre → unsubscribe, checking the database after each step.
"""

import email
import email.policy
import re
import threading
import time

import pytest
from playwright.sync_api import expect

from tests.helpers.services import free_port

pytestmark = pytest.mark.e2e


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self._arrived:
            self.envelopes.append(envelope)
            self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 15) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} emails, got {len(self.messages)}")
                self._arrived.wait(remaining)
            return self.messages[count - 1]


@pytest.fixture
def smtp_inbox(settings):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.MAIL_CONNECTIONS = {
        **settings.MAIL_CONNECTIONS,
        "transactional": {
            "backend": "django.core.mail.backends.smtp.EmailBackend",
            "host": "127.0.0.1",
            "port": controller.port,
            "timeout": 10,
        },
    }
    yield inbox
    controller.stop()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_reader_signs_up_confirms_changes_categories_and_unsubscribes(
    transactional_db, live_server, settings, smtp_inbox, browser_page, eager_celery
):
    _journey(live_server, settings, smtp_inbox, browser_page)


def _journey(live_server, settings, smtp_inbox, page):
    from digests.models import Category, Consent, Subscriber

    settings.SITE_URL = live_server.url
    research = Category.objects.create(name="模型与研究", slug="research", position=1)
    products = Category.objects.create(name="产品", slug="products", position=2)
    policy = Category.objects.create(name="政策与监管", slug="policy", position=3)

    # 1. The signup form, all categories checked by default; the reader drops one.
    page.goto(f"{live_server.url}/subscribe/")
    assert page.locator("html").get_attribute("lang") == "en"
    for name in ("模型与研究", "产品", "政策与监管"):
        assert page.get_by_label(name).is_checked()
    page.get_by_label("Email address").fill("e2e.Reader@Example.com")
    page.get_by_label("Name (optional)").fill("浏览器读者")
    page.get_by_label("政策与监管").uncheck()
    # How often: daily is preselected and the weekday shows only for the weekly edition (CSS, no script).
    weekday = page.get_by_label("Weekly edition on")
    assert page.get_by_role("radio", name="Daily", exact=True).is_checked() and weekday.is_hidden()
    page.get_by_role("radio", name="Weekly", exact=True).check()
    assert weekday.is_visible() and weekday.input_value() == "sat"
    weekday.select_option("sun")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()

    reader = Subscriber.objects.get()
    assert reader.email == "e2e.Reader@example.com" and reader.status == Subscriber.Status.PENDING
    assert set(reader.categories.all()) == {research, products}
    assert reader.language == "en"
    assert (reader.frequency, reader.weekly_day) == ("weekly", "sun")

    # 2. The confirmation email arrives over SMTP.
    message = smtp_inbox.wait_for(1)
    assert smtp_inbox.envelopes[0].rcpt_tos == ["e2e.Reader@example.com"]
    assert message["Subject"].strip() == f"Confirm your subscription to {settings.SITE_NAME}"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = re.search(r"(http://\S+/confirm/\S+/)", text).group(1)
    assert link.startswith(live_server.url) and link in html
    assert "example.com" not in link.lower()

    # 3. Following the link shows a button; nothing changes until it is pressed.
    page.goto(link)
    assert page.get_by_role("heading", name="Confirm your subscription").is_visible()
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.PENDING
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    chosen = page.locator("#chosen-categories li").all_inner_texts()
    assert chosen == ["模型与研究", "产品"]
    assert page.locator("#chosen-frequency").inner_text() == "You get the weekly edition, every Sunday."
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.ACTIVE and reader.confirmed_at is not None
    consent = Consent.objects.get(subscriber=reader)
    assert consent.form == "signup+confirm" and consent.ip_hash and "127.0.0.1" not in consent.ip_hash

    # 4. The preference centre: swap a category, pick a time zone.
    page.get_by_role("link", name="Change categories and settings").click()
    page.get_by_role("heading", name="Your subscription").wait_for()
    assert "/preferences/" in page.url
    page.get_by_label("模型与研究").uncheck()
    page.get_by_label("政策与监管").check()
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    assert page.get_by_role("radio", name="Weekly", exact=True).is_checked()
    assert page.get_by_label("Weekly edition on").input_value() == "sun"
    page.get_by_role("radio", name="Daily and weekly").check()
    page.get_by_label("Weekly edition on").select_option("fri")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Your changes are saved.").wait_for()
    reader.refresh_from_db()
    assert set(reader.categories.all()) == {products, policy}
    assert reader.timezone == "Europe/Berlin"
    assert (reader.frequency, reader.weekly_day) == ("both", "fri")

    # 5. The language switch works without JavaScript tricks: a plain form POST.
    page.get_by_label("Page language").select_option("zh-hans")
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert "/preferences/" in page.url

    # 6. Unsubscribe from the preference centre.
    page.locator("form[action*='/unsubscribe/'] button").click()
    page.wait_for_url(re.compile(r".*/unsubscribe/.+/$"))
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.UNSUBSCRIBED and reader.unsubscribed_at is not None
    # The confirmation, then one welcome after confirming; nothing else.
    welcome = smtp_inbox.wait_for(2, timeout=60)
    assert welcome["Subject"] == "Welcome to AI 行业动态"
    assert len(smtp_inbox.messages) == 2
