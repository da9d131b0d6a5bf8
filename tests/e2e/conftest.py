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


@pytest.fixture
def chromium(monkeypatch):
    """A headless Chromium (Playwright's sync API), skipped with a reason when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # ORM calls made while Playwright's loop runs get their own connection
        # in a context-local slot; close it here, inside that context, or
        # PostgreSQL refuses to drop the test database at the end.
        connections.close_all()
