"""Fixtures for the end-to-end tests: a real headless browser."""

from pathlib import Path

import pytest

# The real SMTP server and Celery worker of the delivery tests, for the weekly edition's end-to-end send.
from tests.delivery.conftest import https_site, smtp_server, worker, worker_env  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, headless, with nothing that reaches for the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class _Browsers:
    """One Playwright driver and one Chromium for all the tests of this folder, relaunched if it died."""

    def __init__(self, playwright):
        self.playwright = playwright
        self.browser = None

    def current(self):
        if self.browser is None or not self.browser.is_connected():
            self.browser = self.playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        return self.browser


@pytest.fixture(scope="package", autouse=True)
def _playwright():
    """Playwright's sync API, started before any other fixture of the first test here and ended after the last.

    Starting the driver and Chromium took a second or two per test; the browser is shared, each test's
    pages and contexts are its own (``chromium`` closes them). Playwright runs an event loop in this
    thread from start to end, and while one runs Django keeps the thread's database connection in a
    context-local slot: starting it before every test's database fixtures means every test, its
    fixtures and pytest-django's transaction or flush all use that one connection, the same one
    throughout. Autouse for that reason, so a test that asks for ``chromium`` late (getfixturevalue)
    does not switch connections half-way.
    """
    if not CHROMIUM.exists():
        yield None
        return
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        # The tests' own ORM calls are plain synchronous code, in this thread, beside Playwright's loop.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browsers = _Browsers(playwright)
            yield browsers
            if browsers.browser is not None:
                browsers.browser.close()
            # Close the context-local connection here, inside that context, or PostgreSQL
            # refuses to drop the test database at the end.
            connections.close_all()


@pytest.fixture
def chromium(_playwright):
    """A headless Chromium (Playwright's sync API), skipped with a reason when it is not installed.

    Each ``new_page()`` / ``new_context()`` is a fresh browser context (its own cookies, storage and
    cache); whatever the test left open is closed after it, so no test sees another's."""
    if _playwright is None:
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    browser = _playwright.current()
    yield browser
    for context in list(browser.contexts):
        context.close()
