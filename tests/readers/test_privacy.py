"""Privacy: a reader downloads their data; erasure leaves only a keyed hash behind."""

import datetime
import json

import pytest
from django.core import signing
from django.utils import timezone

from digests.links import reader_token
from digests.models import Consent, Delivery, DeliveryEvent, Digest, Subscriber, Suppression
from digests.readers.frequency import subscriber_frequency_set
from digests.readers.privacy import address_hash, address_is_suppressed, subscriber_data_export, subscriber_erase
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(categories):
    reader = make_reader("data@xn--fsqu00a.xn--fiqs8s", name="数据主人", categories=categories[:2], timezone="Asia/Shanghai")
    Consent.objects.create(subscriber=reader, form="signup+confirm", ip_hash="abc", wording="是的，请发给我。")
    digest = Digest.objects.create(issue_date=datetime.date(2026, 2, 6), title="AI 行业动态 (2026-02-06)")
    delivery = Delivery.objects.create(
        digest=digest,
        subscriber=reader,
        variant="1",
        not_before=timezone.now(),
        status="sent",
        sent_at=timezone.now(),
        message_id="<m1@example.com>",
    )
    DeliveryEvent.objects.create(
        delivery=delivery, subscriber=reader, provider="smtp", event_type="delivered", occurred_at=timezone.now()
    )
    subscriber_frequency_set(reader, frequency="weekly", weekly_day="sun", via="unsubscribe_page")
    return reader


def test_the_emailed_download_link_gives_a_json_file_of_everything(client, reader, categories):
    response = client.get(f"/preferences/{reader_token(reader.key, 'data')}/data/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content.decode("utf-8"))
    assert set(data) == {"profile", "categories", "consent_records", "frequency_changes", "deliveries"}
    assert data["profile"]["email"] == "data@xn--fsqu00a.xn--fiqs8s" and data["profile"]["name"] == "数据主人"
    assert data["profile"]["status"] == "active" and data["profile"]["timezone"] == "Asia/Shanghai"
    assert (data["profile"]["frequency"], data["profile"]["weekly_day"]) == ("weekly", "sun")
    assert [(m["from"], m["to"], m["via"]) for m in data["frequency_changes"]] == [("daily", "weekly", "unsubscribe_page")]
    assert [c["slug"] for c in data["categories"]] == ["research", "products"]
    assert data["consent_records"][0]["wording"] == "是的，请发给我。"
    assert data["deliveries"][0]["digest"] == "AI 行业动态 (2026-02-06)" and data["deliveries"][0]["status"] == "sent"
    assert "数据主人" in response.content.decode("utf-8")  # readable UTF-8, not \\u escapes


def test_the_download_link_needs_its_own_fresh_token(client, reader, monkeypatch):
    for token in (reader_token(reader.key, "preferences"), reader_token(reader.key, "unsubscribe"), "bad"):
        assert client.get(f"/preferences/{token}/data/").status_code == 404
    token = reader_token(reader.key, "data")
    now = signing.time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now + 24 * 3600 + 1)
    assert client.get(f"/preferences/{token}/data/").status_code == 404


def test_the_download_cannot_be_posted_to(client, reader):
    assert client.post(f"/preferences/{reader_token(reader.key, 'data')}/data/").status_code == 405


def test_erasing_deletes_the_reader_and_their_history_but_keeps_a_keyed_hash(reader):
    subscriber_erase(reader)
    assert not Subscriber.objects.exists()
    assert not Delivery.objects.exists() and not DeliveryEvent.objects.exists() and not Consent.objects.exists()
    suppression = Suppression.objects.get()
    assert suppression.reason == "erased"
    assert "data" not in suppression.email_hash and len(suppression.email_hash) == 64
    assert address_is_suppressed("DATA@xn--fsqu00a.xn--fiqs8s")


def test_the_address_hash_is_keyed_and_case_insensitive(settings):
    assert address_hash("Someone@example.com") == address_hash("someone@example.com")
    first = address_hash("someone@example.com")
    settings.SECRET_KEY = "a-different-secret-key-for-this-test-0123456789"
    assert address_hash("someone@example.com") != first


def test_erasing_twice_keeps_one_suppression(categories):
    subscriber_erase(make_reader("twice@example.com"))
    subscriber_erase(make_reader("Twice@example.com"))
    assert Suppression.objects.count() == 1


def test_the_export_describes_a_reader_without_history(categories):
    reader = make_reader("bare@example.com", status=Subscriber.Status.PENDING)
    data = subscriber_data_export(reader)
    assert data["consent_records"] == [] and data["deliveries"] == [] and data["profile"]["confirmed_at"] is None
