"""Fixtures for tests of several stages. A stage's own fixtures live in its folder's conftest.py.

Test modules never import fixtures; plain helpers and data are in tests/helpers/.
"""

import datetime
import os

import pytest

from tests.helpers.digest_files import SEED_PATH


def pytest_sessionstart(session):
    """Claim the Redis databases the tests will empty; with REQUIRE_SERVICES=1 (CI) insist on PostgreSQL and Redis."""
    from django.conf import settings

    from tests.helpers.redis_databases import redis_url_of_cache

    _claim_redis_databases([settings.CELERY_BROKER_URL, redis_url_of_cache(settings.CACHES)])
    _fast_password_hashing()
    _flush_by_delete()
    if os.environ.get("REQUIRE_SERVICES") != "1":
        return

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


def _fast_password_hashing():
    """Staff users are made (and log in) in some two hundred tests; the production hasher's
    PBKDF2 rounds cost about half a second each on a 2-core machine, a minute and more of the run.
    No test is about the hash's strength; hashes made by the app's own commands in a subprocess
    (PBKDF2) still verify, as PBKDF2 stays in the list."""
    from django.test.utils import override_settings

    # Enabled for the whole session: setting_changed clears Django's cached hashers.
    override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    ).enable()


def _flush_by_delete():
    """After each of the ~140 transactional tests (live servers, real workers) pytest-django empties
    every table with Django's ``flush``: on PostgreSQL one TRUNCATE of the 32 tables, which makes new
    files for every table and index and took ~0.9 s on a 2-core machine, two minutes of the run. A
    DELETE of the same few rows takes ~0.02 s and leaves the same empty tables. Foreign keys are
    checked at commit (Django makes them deferrable; the flush is one transaction), the ledger's
    references by its triggers (so it goes first); the second pass removes what the delivery counter's trigger writes while
    digests_delivery is emptied. Flushes that reset sequences or cascade keep Django's TRUNCATE."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        # The ledger first: its references are checked by statement-level triggers at the end of each
        # DELETE (migration 0015), not at commit, so readers and digests may only go once it is empty.
        tables = sorted(tables, key=lambda table: table != "digests_delivery")
        delete = [f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};" for table in tables]
        return delete + delete

    DatabaseOperations.sql_flush = sql_flush


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """With ``-n N`` (``make test`` runs two processes) each process gets Redis databases and a var/ folder
    of its own, as if on its own machine: the tests empty the broker and the cache around every test,
    which a test running in the other process would feel. PostgreSQL needs nothing: pytest-django gives
    each process its own test database (``test_<name>_gw0``, ``…_gw1``). The databases are claimed here,
    before any process starts, so a database that is not the suite's stops the run once, clearly."""
    from django.conf import settings

    from tests.helpers.redis_databases import redis_urls_for_process

    for spec in specs:
        index = int(spec.id.removeprefix("gw"))
        spec.env["VAR_DIR"] = str(settings.VAR_DIR / "tests" / spec.id)
        given = {name: getattr(settings, name) for name in ("CELERY_BROKER_URL", "CACHE_URL")}
        moved = redis_urls_for_process(list(given.values()), index)
        spec.env.update({name: moved[url] for name, url in given.items() if url in moved})
        _claim_redis_databases(moved.values())


def _claim_redis_databases(urls):
    import redis

    from tests.helpers.redis_databases import NotTheSuitesDatabase, redis_database_claim

    for url in dict.fromkeys(u for u in urls if u and u.startswith(("redis://", "rediss://"))):
        try:
            redis_database_claim(url)
        except NotTheSuitesDatabase as exc:
            pytest.exit(str(exc), returncode=2)
        except redis.RedisError:
            continue  # not running: the tests that need it fail (or REQUIRE_SERVICES stops the run) below


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
    """An empty cache for every test; a Redis cache only if it is the suite's own database (never cache.clear())."""
    import redis
    from django.conf import settings
    from django.core.cache import cache

    from tests.helpers.redis_databases import redis_database_flush, redis_url_of_cache

    def empty():
        url = redis_url_of_cache(settings.CACHES)
        if not url:
            cache.clear()
            return
        try:
            redis_database_flush(url)
        except redis.ConnectionError:
            pass  # a test pointed the cache at a server that is not there: nothing to empty

    empty()
    yield
    empty()


@pytest.fixture
def seed_bytes() -> bytes:
    return SEED_PATH.read_bytes()


@pytest.fixture
def seed_digest(db, seed_bytes):
    from digests.content.digest_format import digest_parse
    from digests.content.services import digest_import

    return digest_import(digest_parse(seed_bytes))


@pytest.fixture
def hard_digest(seed_digest):
    """The harder issue of 2026-02-07, imported after the seed (so its section order is new)."""
    from digests.content.digest_format import digest_parse
    from digests.content.services import digest_import
    from tests.helpers.digest_files import HARD_PATH

    return digest_import(digest_parse(HARD_PATH.read_bytes()))


@pytest.fixture
def weekly_digest(seed_digest):
    """The weekly edition of 2026-02-02 – 2026-02-08 built from the seed (marked sent) and a copy of it on 2/7 with a new lead story."""
    from digests.content.services import digest_duplicate, digest_transition
    from digests.content.weekly import weekly_build

    for status in ("sending", "sent"):
        digest_transition(seed_digest, to=status)
    saturday = digest_duplicate(digest=seed_digest, with_items=True)
    first = saturday.items.order_by("category__position", "position").first()
    first.title, first.source_url = "国务院印发“人工智能+”行动意见", "https://www.gov.cn/zhengce/ai-plus.html"
    first.save()
    for status in ("sending", "sent"):
        digest_transition(saturday, to=status)
    weekly = weekly_build(datetime.date(2026, 2, 8))
    weekly.intro = "本周导语：地方立法与国家行动意见接连出台。"
    weekly.save()
    return weekly


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


@pytest.fixture
def categories(db):
    from digests.models import Category

    return [
        Category.objects.create(name="模型与研究", slug="research", position=1),
        Category.objects.create(name="产品", slug="products", position=2),
        Category.objects.create(name="政策与监管", slug="policy", position=3),
    ]


@pytest.fixture
def eager_propagates():
    """Whether a task run by ``eager_celery`` raises its error in the caller; a stage's conftest may say otherwise."""
    return True


@pytest.fixture
def eager_celery(eager_propagates):
    """Tasks run in-process when queued, so their mail lands in django.core.mail.outbox."""
    from newsletter.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = eager_propagates
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks, eager_celery):
    """Run on_commit callbacks (the queued confirmation tasks) as a real commit would."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def broker_down(settings):
    """A real broker outage: Celery publishes to a Redis URL on a local port nothing listens on.

    ``broker_down.end()`` brings the broker back (as at the end of the test).
    """
    from types import SimpleNamespace

    from newsletter.celery import app
    from tests.helpers.services import free_port

    def point_at(url):
        # Publishing uses broker_write_url (it defaults to broker_url when read). Celery keeps its
        # connection and producer pools; drop them so the next publish connects to ``url``.
        app.conf.broker_write_url = url
        app._pool = None
        app.amqp._producer_pool = None

    previous_url, previous_setting = app.conf.broker_write_url, settings.CELERY_BROKER_URL
    dead = f"redis://127.0.0.1:{free_port()}/0"

    def end():
        point_at(previous_url)
        settings.CELERY_BROKER_URL = previous_setting

    point_at(dead)
    settings.CELERY_BROKER_URL = dead
    yield SimpleNamespace(url=dead, end=end)
    end()


@pytest.fixture
def cache_down(settings):
    """A real cache outage: the cache is a Redis URL on a local port nothing listens on."""
    from digests.readers import shared_cache
    from tests.helpers.services import free_port

    def forget():
        shared_cache.fallback_cache.clear()
        shared_cache._last_logged = float("-inf")
        shared_cache._last_failure = None

    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHE_URL = dead
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}}
    forget()
    yield dead
    forget()
