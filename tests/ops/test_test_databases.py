"""The test suite empties only Redis databases it claimed: never a database holding someone else's keys."""

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings

from tests.helpers.paths import ROOT
from tests.helpers.redis_databases import (
    OWNER_KEY,
    NoSuchDatabase,
    redis_database_claim,
    redis_url_of_cache,
    redis_urls_for_process,
)
from tests.helpers.services import free_port

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
    result = _pytest(tmp_path / "test_nothing.py", env=env)
    assert result.returncode != 0, result.stdout
    assert "holds keys the test suite did not write" in result.stdout + result.stderr
    assert client.get("someone:else:data") == b"precious"
    assert not client.exists(OWNER_KEY)


def test_an_empty_database_is_claimed_and_then_the_suites_to_empty(someone_elses_database):
    url, client = someone_elses_database
    client.delete("someone:else:data")
    redis_database_claim(url)
    assert client.get(OWNER_KEY)


def _pytest(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_test_process_k_moves_each_redis_database_up_by_k_times_the_span_of_those_given():
    ci = ["redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/1"]
    assert redis_urls_for_process(ci, 0) == {url: url for url in ci}
    assert redis_urls_for_process(ci, 1) == {ci[0]: "redis://127.0.0.1:6379/2", ci[1]: "redis://127.0.0.1:6379/3"}
    apart = ["redis://127.0.0.1:6379/4", "redis://127.0.0.1:6379/6"]  # 5 is not the suite's to take
    assert list(redis_urls_for_process(apart, 1).values()) == ["redis://127.0.0.1:6379/7", "redis://127.0.0.1:6379/9"]
    one = ["redis://h:6379/5", "redis://h:6379/5", "memory://"]  # broker and cache in one database; not Redis
    assert redis_urls_for_process(one, 2) == {"redis://h:6379/5": "redis://h:6379/7"}


def test_a_redis_database_the_server_does_not_have_stops_the_run_saying_which_numbers_work():
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs Redis (CELERY_BROKER_URL=redis://…)")
    missing = urlsplit(settings.CELERY_BROKER_URL)._replace(path="/9999").geturl()
    with pytest.raises(NoSuchDatabase, match=r"/9999 does not exist .* such as 12 and 13, or run one process"):
        redis_database_claim(missing)


WHERE_AM_I = """
import json, os
from django.conf import settings

def test_where(worker_id):
    record = {"var": os.environ["VAR_DIR"], "broker": settings.CELERY_BROKER_URL, "cache": settings.CACHE_URL}
    (settings.VAR_DIR / "where.json").write_text(json.dumps({worker_id: record}))
"""


def test_each_test_process_gets_its_own_redis_databases_and_var_folder(tmp_path):
    """As on two machines: no process empties what the other one is using."""
    (tmp_path / "test_where.py").write_text(WHERE_AM_I + "\n\ntest_again = test_where\n")
    nowhere = free_port()  # nothing listens: the processes' settings are read, no database is claimed or emptied
    env = {
        **os.environ,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{nowhere}/3",
        "CACHE_URL": f"redis://127.0.0.1:{nowhere}/4",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
        "REQUIRE_SERVICES": "0",
    }
    result = _pytest("-n", "2", "--dist", "each", tmp_path / "test_where.py", env=env)
    assert result.returncode == 0, result.stdout + result.stderr

    seen = {}
    for process in ("gw0", "gw1"):
        seen.update(json.loads((tmp_path / "var" / "tests" / process / "where.json").read_text()))
    server = f"redis://127.0.0.1:{nowhere}"
    assert seen == {
        "gw0": {"var": str(tmp_path / "var/tests/gw0"), "broker": f"{server}/3", "cache": f"{server}/4"},
        "gw1": {"var": str(tmp_path / "var/tests/gw1"), "broker": f"{server}/5", "cache": f"{server}/6"},
    }
