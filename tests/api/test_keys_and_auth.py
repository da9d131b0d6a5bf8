"""API keys: made on the command line and shown once, stored hashed, scoped, rate-limited, revoked in the admin."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from digests.models import ApiKey

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_api_key_prints_the_key_once_and_stores_only_its_hash():
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "morning-pipeline", "--scopes", "digests:write,sends:write", stdout=out, stderr=err)

    key = out.getvalue().strip()
    row = ApiKey.objects.get()
    assert key.startswith(f"dgk_{row.prefix}_")
    assert row.name == "morning-pipeline" and row.scopes == ["digests:write", "sends:write"]
    secret = key.split("_", 2)[2]
    assert secret not in str(ApiKey.objects.values().get())
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert "only this once" in err.getvalue()


def test_create_api_key_refuses_an_unknown_scope():
    with pytest.raises(CommandError, match="unknown scope"):
        call_command("create_api_key", "x", "--scopes", "digests:write,everything")
    assert not ApiKey.objects.exists()


def test_no_key_a_wrong_key_or_another_scheme_is_401_with_a_bearer_challenge(api):
    for key in (None, "dgk_nope_nope", "not-even-our-format"):
        answer = api.get("digests/", key=key)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get("digests/", key=None, headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401


def test_a_missing_scope_is_403_and_the_right_scope_is_200(api, make_key):
    reader = make_key("subscribers:read")
    assert api.get("digests/", key=reader).status_code == 403
    assert api.get("subscribers/", key=reader).status_code == 200
    assert api.get("categories/", key=reader).status_code == 200  # any key lists the categories


def test_each_use_stamps_the_last_used_time(api, make_key):
    key = make_key("digests:read", name="nightly")
    assert ApiKey.objects.get(name="nightly").last_used_at is None
    api.get("digests/", key=key)
    assert ApiKey.objects.get(name="nightly").last_used_at is not None


def test_every_key_has_a_rate_limit_answered_with_429_and_retry_after(api, make_key, settings):
    settings.API_RATE_LIMIT = "3/m"
    busy, other = make_key("digests:read", name="busy"), make_key("digests:read", name="other")
    answers = [api.get("digests/", key=busy).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = api.get("digests/", key=busy)
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 60
    assert api.get("digests/", key=other).status_code == 200  # per key, not global


def test_admin_lists_keys_with_last_use_and_revokes_them(api, make_key, admin_client):
    key = make_key("digests:read", name="nightly")
    api.get("digests/", key=key)
    row = ApiKey.objects.get(name="nightly")

    listing = admin_client.get(reverse("admin:digests_apikey_changelist")).content.decode()
    assert row.prefix in listing and "digests:read" in listing
    assert key.split("_", 2)[2] not in listing
    admin_client.post(reverse("admin:digests_apikey_changelist"), {"action": "revoke_selected", "_selected_action": [row.pk]})

    assert ApiKey.objects.get(name="nightly").revoked_at is not None
    assert api.get("digests/", key=key).status_code == 401


def test_admin_changes_a_keys_scopes(api, make_key, admin_client):
    key = make_key("digests:read", name="nightly")
    row = ApiKey.objects.get(name="nightly")
    admin_client.post(
        reverse("admin:digests_apikey_change", args=[row.pk]), {"name": row.name, "scopes": ["digests:read", "sends:write"]}
    )
    assert ApiKey.objects.get(name="nightly").scopes == ["digests:read", "sends:write"]
    assert api.post("digests/2026-02-06/pause", key=key).status_code == 404  # allowed now: the digest does not exist
