"""The test suite empties only Redis databases it claimed: never a database holding someone else's keys."""

import os
import subprocess
import sys

import pytest
import redis
from django.conf import settings

from tests.helpers.paths import ROOT
from tests.helpers.redis_databases import OWNER_KEY, redis_database_claim, redis_url_of_cache

A_PASSING_TEST = "def test_nothing():\n    assert True\n"


@pytest.fixture
def someone_elses_database():
    """The suite's cache database made to look like a shared one: no claim, one foreign key; restored afterwards."""
    url = redis_url_of_cache(settings.CACHES)
    if not url:
        pytest.skip("needs a Redis cache (CACHE_URL=redis://…)")
    client = redis.Redis.from_url(url)
    client.flushdb()  # ours: claimed at the start of this run
    client.set("someone:else:data", "precious")
    yield url, client
    client.delete("someone:else:data")
    redis_database_claim(url)


def test_the_suite_refuses_and_leaves_untouched_a_redis_database_it_did_not_claim(someone_elses_database, tmp_path):
    url, client = someone_elses_database
    (tmp_path / "test_nothing.py").write_text(A_PASSING_TEST)
    env = {
        **os.environ,
        "CACHE_URL": url,
        "CELERY_BROKER_URL": "memory://",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
        "REQUIRE_SERVICES": "0",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            str(tmp_path / "test_nothing.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0, result.stdout
    assert "holds keys the test suite did not write" in result.stdout + result.stderr
    assert client.get("someone:else:data") == b"precious"
    assert not client.exists(OWNER_KEY)


def test_an_empty_database_is_claimed_and_then_the_suites_to_empty(someone_elses_database):
    url, client = someone_elses_database
    client.delete("someone:else:data")
    redis_database_claim(url)
    assert client.get(OWNER_KEY)
