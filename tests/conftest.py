import os
from pathlib import Path

import pytest

SEED_PATH = Path(__file__).resolve().parents[1] / "digests" / "fixtures" / "ai-digest-2026-02-06.md"


def pytest_sessionstart(session):
    """CI sets REQUIRE_SERVICES=1: the suite must really run on PostgreSQL and Redis."""
    if os.environ.get("REQUIRE_SERVICES") != "1":
        return
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(f"REQUIRE_SERVICES=1 but DATABASE_URL is not PostgreSQL ({engine})", returncode=2)
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.exit("REQUIRE_SERVICES=1 but CELERY_BROKER_URL is not Redis", returncode=2)
    import redis

    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(f"Redis at {settings.CELERY_BROKER_URL} cannot be reached: {exc}", returncode=2)


@pytest.fixture(autouse=True)
def _mail_in_memory(settings, tmp_path):
    """Tests read sent mail from django.core.mail.outbox unless they ask for a real server."""
    settings.MAIL_CONNECTIONS = {
        "bulk": {"backend": "django.core.mail.backends.locmem.EmailBackend"},
        "transactional": {"backend": "django.core.mail.backends.locmem.EmailBackend"},
    }
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox")


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def seed_bytes() -> bytes:
    return SEED_PATH.read_bytes()


@pytest.fixture
def seed_digest(db, seed_bytes):
    from digests.content.digest_format import digest_parse
    from digests.content.services import digest_import

    return digest_import(digest_parse(seed_bytes))


def _staff(django_user_model, username, group=None):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username=username, password="pw-" + username, is_staff=True, email=f"{username}@example.com"
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def editor(db, django_user_model):
    return _staff(django_user_model, "editor", "Editor")


@pytest.fixture
def publisher(db, django_user_model):
    return _staff(django_user_model, "publisher", "Publisher")


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def publisher_client(client, publisher):
    client.force_login(publisher)
    return client


@pytest.fixture
def english(settings):
    """Pin English for tests that read messages, so translating the catalogues cannot change them."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


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
