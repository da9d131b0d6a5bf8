"""Done when: a pipeline publishes the morning issue over HTTP and the house does the rest.

A key made on the command line posts the seed file; the autopilot (on)
schedules it; a real Celery worker sends it over real SMTP; a local receiver
gets the digest's webhooks with valid Standard Webhooks signatures. The
generated OpenAPI document validates, and every refusal answers its
documented status.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from openapi_spec_validator import validate

from digests import queue
from digests.models import Category, Digest
from tests.helpers.digest_files import SEED_PATH
from tests.helpers.paths import ROOT
from tests.helpers.readers import make_reader
from tests.helpers.services import needs_services, wait_for

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]

DIGEST_EVENTS = ["digest.created", "digest.scheduled", "digest.sending", "digest.sent"]


def _create_key_on_the_command_line(env: dict, scopes: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "morning-pipeline", "--scopes", scopes],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_a_pipeline_publishes_the_seed_and_the_worker_sends_it(api, receiver, smtp_server, worker, worker_env, settings):
    settings.DIGEST_AUTOPILOT = "on"
    # The seed's issue date is in the past; the stale guard would (rightly) stop it otherwise.
    settings.DIGEST_STALE_AFTER_DAYS = worker_env["DIGEST_STALE_AFTER_DAYS"] = "100000"
    settings.DIGEST_STALE_AFTER_DAYS = 100000
    key = _create_key_on_the_command_line(worker_env, "digests:read,digests:write,sends:write")
    assert key.startswith("dgk_")
    worker().start()

    answer = api.post("digests/", key=key, data=SEED_PATH.read_bytes(), headers={"Content-Type": "text/markdown"})

    assert answer.status_code == 201, answer.text
    published = answer.json()
    assert published["issue_date"] == "2026-02-06"
    assert published["status"] == "scheduled" and published["autopilot"] == "automatic"
    assert not [check for check in published["checks"] if check["level"] == "error"]
    readers = {f"reader{i}@example.com" for i in range(3)}
    for address in readers:
        make_reader(address, categories=list(Category.objects.all()))

    queue.enqueue(queue.DISPATCH_DUE, on_commit=False)  # what beat does every minute

    digest = Digest.objects.get(issue_date="2026-02-06")
    assert wait_for(lambda: Digest.objects.get(pk=digest.pk).status == "sent", timeout=120, interval=0.5)
    assert set(smtp_server.by_recipient()) == readers
    assert wait_for(lambda: all(receiver.of_type(t) for t in DIGEST_EVENTS), timeout=60, interval=0.3), receiver.types()
    assert not receiver.rejected
    digest_events = [t for t in receiver.types() if t.startswith("digest.")]
    assert sorted(digest_events) == sorted(DIGEST_EVENTS)
    sent = receiver.of_type("digest.sent")[0]["data"]
    assert (sent["issue_date"], sent["sent"], sent["failed"]) == ("2026-02-06", 3, 0)
    assert api.get("digests/2026-02-06/status", key=key).json()["sent"] == 3

    schema = api.get("schema/", key=None, headers={"Accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200
    validate(schema.json())

    _every_refusal_answers_its_status(api, key, settings)


def _every_refusal_answers_its_status(api, key, settings):
    from digests.apikeys import api_key_create, api_key_revoke

    read_only = api_key_create(name="reader", scopes=["digests:read"])[1]
    revoked_row, revoked = api_key_create(name="old", scopes=["digests:read"])
    api_key_revoke(revoked_row)
    seed = SEED_PATH.read_bytes()
    markdown = {"Content-Type": "text/markdown"}
    broken = seed.replace("来源出处".encode(), "出处".encode(), 1)

    cases = [
        ("no key", api.get("digests/", key=None), 401),
        ("a wrong key", api.get("digests/", key=key[:-4] + "xxxx"), 401),
        ("a revoked key", api.get("digests/", key=revoked), 401),
        ("a key without the scope", api.post("digests/", key=read_only, data=seed, headers=markdown), 403),
        ("reading without digests:read", api.get("subscribers/", key=key), 403),
        ("broken text", api.post("digests/", key=key, data=broken, headers=markdown), 400),
        ("broken JSON digest", api.post("digests/", key=key, json={"title": "x", "categories": []}), 400),
        ("an unknown content type", api.post("digests/", key=key, data=b"x", headers={"Content-Type": "text/csv"}), 415),
        ("a date that exists", api.post("digests/", key=key, data=seed, headers=markdown), 409),
        ("replacing a sent digest", api.post("digests/?replace=true", key=key, data=seed, headers=markdown), 409),
        ("an unknown digest", api.get("digests/2001-01-01/", key=key), 404),
        ("scheduling a sent digest", api.post("digests/2026-02-06/schedule", key=key), 409),
        ("pausing a sent digest", api.post("digests/2026-02-06/pause", key=key), 409),
        ("resuming a sent digest", api.post("digests/2026-02-06/resume", key=key), 409),
        ("cancelling a sent digest", api.post("digests/2026-02-06/cancel", key=key), 409),
        ("sending without sends:write", api.post("digests/2026-02-06/pause", key=read_only), 403),
        ("a confirmed reader without subscribers:import", _confirmed_signup(api), 403),
        ("an unknown reader", api.patch("subscribers/00000000-0000-0000-0000-000000000000/", json={}), 404),
    ]
    wrong = [(name, response.status_code, expected) for name, response, expected in cases if response.status_code != expected]
    assert not wrong, wrong
    assert api.post("digests/", key=key, data=broken, headers=markdown).json()["errors"][0].keys() == {"line", "message"}
    assert api.post("digests/", key=key, json={"title": "x"}).json()["errors"][0].keys() == {"field", "message"}

    settings.API_RATE_LIMIT = "2/m"
    limited = api_key_create(name="busy", scopes=["digests:read"])[1]
    answers = [api.get("categories/", key=limited) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0


def _confirmed_signup(api):
    from digests.apikeys import api_key_create

    writer = api_key_create(name="signup form", scopes=["subscribers:write"])[1]
    return api.post(
        "subscribers/", key=writer, json={"email": "new@example.com", "confirmed": True, "consent_source": "event stand"}
    )
