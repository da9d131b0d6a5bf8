"""Unsubscribe: GET never changes anything, POST (and RFC 8058 one-click) unsubscribes at once."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from digests.links import reader_links, reader_token
from digests.models import Delivery, Digest, Subscriber
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db
S = Subscriber.Status
ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def reader():
    return make_reader("leaving@example.com")


@pytest.fixture
def path(reader, settings):
    return reader_links(reader.key).unsubscribe_url.removeprefix(settings.SITE_URL)


def test_get_shows_one_button_and_never_unsubscribes(client, reader, path):
    for _ in range(3):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
    body = response.content.decode()
    # Unsubscribe, the switch to the weekly edition, and the language switch.
    assert body.count("<button") == 3
    assert 'method="post"' in body
    reader.refresh_from_db()
    assert reader.status == S.ACTIVE and reader.unsubscribed_at is None


def test_head_and_other_methods_do_not_unsubscribe(client, reader, path):
    for method in (client.head, client.put, client.delete):
        assert method(path).status_code == 405
    reader.refresh_from_db()
    assert reader.status == S.ACTIVE


def test_pressing_the_button_unsubscribes_at_once(client, reader, path):
    response = client.post(path, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    reader.refresh_from_db()
    assert reader.status == S.UNSUBSCRIBED and reader.unsubscribed_at is not None


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_works_without_cookies_or_csrf_token(reader, path, encoding):
    provider = Client(enforce_csrf_checks=True)
    if encoding == "urlencoded":
        response = provider.post(path, ONE_CLICK, content_type="application/x-www-form-urlencoded")
    else:
        response = provider.post(path, {"List-Unsubscribe": "One-Click"})  # the test client sends multipart
        assert response.request["CONTENT_TYPE"].startswith("multipart/form-data")
    assert response.status_code == 200
    assert not response.has_header("Location")
    reader.refresh_from_db()
    assert reader.status == S.UNSUBSCRIBED


def test_one_click_is_idempotent(reader, path):
    provider = Client(enforce_csrf_checks=True)
    first = provider.post(path, ONE_CLICK, content_type="application/x-www-form-urlencoded")
    reader.refresh_from_db()
    stamped = reader.unsubscribed_at
    second = provider.post(path, ONE_CLICK, content_type="application/x-www-form-urlencoded")
    assert first.status_code == second.status_code == 200
    reader.refresh_from_db()
    assert reader.status == S.UNSUBSCRIBED and reader.unsubscribed_at == stamped


def test_unsubscribing_withdraws_pending_deliveries(reader, path):
    digest = Digest.objects.create(issue_date=datetime.date(2026, 2, 6), title="AI 行业动态")
    pending = Delivery.objects.create(digest=digest, subscriber=reader, variant="1", not_before=timezone.now())
    Client(enforce_csrf_checks=True).post(path, ONE_CLICK, content_type="application/x-www-form-urlencoded")
    pending.refresh_from_db()
    assert pending.status == Delivery.Status.CANCELLED


def test_other_forms_still_need_csrf(reader):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(f"/preferences/{reader_token(reader.key, 'preferences')}/", {"language": "en"})
    assert response.status_code == 403
    assert strict.post("/subscribe/", {"email": "x@example.com"}).status_code == 403


def test_a_tampered_or_foreign_token_gives_a_friendly_404_and_changes_nothing(client, reader):
    token = reader_token(reader.key, "unsubscribe")
    for bad in (token[:-1] + ("x" if token[-1] != "x" else "y"), reader_token(reader.key, "preferences"), "nope"):
        response = client.post(
            f"/unsubscribe/{bad}/", ONE_CLICK, content_type="application/x-www-form-urlencoded", HTTP_ACCEPT_LANGUAGE="en"
        )
        assert response.status_code == 404 and "This link does not work" in response.content.decode()
        assert client.get(f"/unsubscribe/{bad}/").status_code == 404
    reader.refresh_from_db()
    assert reader.status == S.ACTIVE


def test_a_pending_or_bounced_reader_can_unsubscribe_too(client):
    for status in (S.PENDING, S.BOUNCED, S.COMPLAINED):
        someone = make_reader(f"{status}@example.com", status=status)
        assert client.post(f"/unsubscribe/{reader_token(someone.key, 'unsubscribe')}/").status_code == 200
        someone.refresh_from_db()
        assert someone.status == S.UNSUBSCRIBED


def test_the_page_of_an_unsubscribed_reader_says_so(client, reader, path):
    client.post(path)
    body = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "already unsubscribed" in body and "/subscribe/" in body


def test_one_click_for_an_erased_reader_still_answers_200(reader, path):
    from digests.readers.privacy import subscriber_erase

    subscriber_erase(reader)
    provider = Client(enforce_csrf_checks=True)
    assert provider.post(path, ONE_CLICK, content_type="application/x-www-form-urlencoded").status_code == 200
    assert provider.get(path).status_code == 404
    assert not Subscriber.objects.exists()
