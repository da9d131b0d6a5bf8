"""Readers over HTTP: the signup's double opt-in, confirmed imports with consent, preferences, the admin's erasure."""

from __future__ import annotations

import pytest
from django.utils import timezone

from digests.models import Consent, Delivery, Subscriber
from digests.readers.privacy import address_is_suppressed
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def outbox(eager_celery):
    from django.core import mail

    return mail.outbox


def test_a_new_reader_is_pending_and_gets_the_confirmation_email(api, categories, outbox):
    answer = api.post(
        "subscribers/",
        json={
            "email": "Li.Lei@Example.com",
            "name": "李雷",
            "categories": ["policy"],
            "timezone": "Europe/Berlin",
            "language": "en",
        },
    )

    assert answer.status_code == 202
    reader = Subscriber.objects.get()
    assert (reader.status, reader.timezone, reader.language) == ("pending", "Europe/Berlin", "en")
    assert [c.slug for c in reader.categories.all()] == ["policy"]
    assert [m.to for m in outbox] == [[reader.email]]


def test_the_answer_is_the_same_whether_or_not_the_address_exists(api, categories, outbox):
    make_reader("known@example.com")
    known = api.post("subscribers/", json={"email": "known@example.com"})
    unknown = api.post("subscribers/", json={"email": "unknown@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert Subscriber.objects.get(email="known@example.com").status == "active"


def test_a_confirmed_reader_needs_subscribers_import_and_a_consent_source(api, make_key, categories):
    writer = make_key("subscribers:write")
    body = {"email": "fair@example.com", "confirmed": True, "consent_source": "sign-up sheet at the 2026 AI fair"}

    assert api.post("subscribers/", key=writer, json=body).status_code == 403
    assert api.post("subscribers/", json={**body, "consent_source": ""}).status_code == 400
    assert api.post("subscribers/", json=body).status_code == 202

    reader = Subscriber.objects.get()
    assert reader.status == "active"
    assert Consent.objects.get(subscriber=reader).wording == "sign-up sheet at the 2026 AI fair"


def test_bad_input_is_400_with_field_errors(api, categories):
    answer = api.post("subscribers/", json={"email": "not-an-address", "categories": ["nope"], "timezone": "Mars/Base"})
    assert answer.status_code == 400
    assert {e["field"] for e in answer.json()["errors"]} == {"email", "categories", "timezone"}


def test_find_by_address_read_and_change_preferences(api, categories):
    reader = make_reader("reader@example.com", categories=categories[:1])
    found = api.get("subscribers/", params={"email": "READER@example.com"}).json()["results"]
    assert [r["id"] for r in found] == [str(reader.key)]
    assert api.get("subscribers/", params={"email": "nobody@example.com"}).json()["results"] == []

    answer = api.patch(f"subscribers/{reader.key}/", json={"categories": ["products", "policy"], "language": "en"})

    assert answer.status_code == 200
    assert sorted(answer.json()["categories"]) == ["policy", "products"] and answer.json()["language"] == "en"
    assert api.get(f"subscribers/{reader.key}/").json()["language"] == "en"
    assert api.patch(f"subscribers/{reader.key}/", json={"timezone": "Mars/Base"}).status_code == 400


def test_an_unsubscribed_reader_has_no_preferences_to_change(api, categories):
    reader = make_reader("gone@example.com", status="unsubscribed")
    assert api.patch(f"subscribers/{reader.key}/", json={"language": "en"}).status_code == 409


def test_delete_is_the_admins_erasure(api, categories):
    reader = make_reader("erase@example.com")
    assert api.delete(f"subscribers/{reader.key}/").status_code == 204
    assert not Subscriber.objects.exists()
    assert address_is_suppressed("erase@example.com")
    assert api.delete(f"subscribers/{reader.key}/").status_code == 404


def test_the_erasure_takes_the_readers_ledger_rows_with_them(api, categories, seed_digest):
    # The ledger's reader has no foreign-key constraint: the erasure itself must take the rows.
    reader = make_reader("erase@example.com")
    now = timezone.now()
    Delivery.objects.create(digest=seed_digest, subscriber=reader, variant="1", not_before=now, message_id="<m@example>")
    assert api.delete(f"subscribers/{reader.key}/").status_code == 204
    assert not Delivery.objects.exists()


def test_reading_needs_subscribers_read(api, make_key, categories):
    reader = make_reader("reader@example.com")
    writer = make_key("subscribers:write")
    assert api.get("subscribers/", key=writer).status_code == 403
    assert api.get(f"subscribers/{reader.key}/", key=writer).status_code == 403


def test_categories_are_listed_in_order(api, categories):
    assert [c["slug"] for c in api.get("categories/").json()] == ["research", "products", "policy"]
