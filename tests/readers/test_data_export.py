"""Preference links expire; the data export goes to the reader's inbox, never out of an old link (issue 11.10)."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail, signing

from digests.links import reader_links, reader_token, reader_token_signed_at
from digests.models import Subscriber
from tests.helpers.readers import make_reader

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

DAY = 24 * 3600


@pytest.fixture
def reader(categories):
    reader = make_reader("owner@example.com", name="Owner", categories=categories[:1])
    Subscriber.objects.filter(pk=reader.pk).update(language="en")
    reader.language = "en"
    return reader


@pytest.fixture
def clock(monkeypatch):
    """Moves the signing clock: tokens signed now are checked ``days`` later."""
    now = signing.time.time()

    def later(days: float):
        monkeypatch.setattr(signing.time, "time", lambda: now + days * DAY)

    return later


def _preferences(reader) -> str:
    return f"/preferences/{reader_token(reader.key, 'preferences')}/"


def test_a_preference_link_works_for_the_configured_time_then_expires(client, reader, clock, settings):
    settings.PREFERENCES_LINK_MAX_AGE_DAYS = 60
    path = _preferences(reader)
    clock(59)
    assert client.get(path).status_code == 200
    clock(61)
    response = client.get(path)
    assert response.status_code == 404
    assert "has expired" in response.content.decode()


def test_a_400_day_old_link_neither_opens_the_page_nor_yields_the_data(client, reader, clock, mailoutbox):
    token = reader_token(reader.key, "preferences")
    clock(400)
    assert client.get(f"/preferences/{token}/").status_code == 404
    assert client.get(f"/preferences/{token}/data/").status_code == 404
    assert client.post(f"/preferences/{token}/export/").status_code == 404
    assert mailoutbox == []


def test_every_new_email_carries_a_fresh_preference_link(reader, clock):
    clock(400)
    links = reader_links(reader.key)
    token = re.search(r"/preferences/([^/]+)/", links.preferences_url).group(1)
    assert abs(reader_token_signed_at(token).timestamp() - signing.time.time()) < 5


def test_the_preference_page_offers_the_export_by_email_and_no_download(client, reader):
    page = client.get(_preferences(reader)).content.decode()
    assert "/data/" not in page
    assert re.search(r'<form method="post" action="/preferences/[^"]+/export/">', page)


def test_asking_for_the_data_emails_a_link_that_downloads_it_for_one_day(
    client, reader, clock, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_preferences(reader) + "export/")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "a download link is on its way to your inbox" in page

    (message,) = mail.outbox
    assert message.to == ["owner@example.com"]
    assert message.subject == "Your data from AI 行业动态"
    assert "The link works for 24 hours." in message.body
    link = re.search(r"https?://\S+/data/", message.body).group(0)
    path = "/" + link.split("/", 3)[3]
    html_link = re.search(r'href="([^"]+/data/)"', message.alternatives[0][0]).group(1)
    assert html_link == link

    clock(0.9)
    download = client.get(path)
    assert download.status_code == 200
    assert json.loads(download.content)["profile"]["email"] == "owner@example.com"
    clock(1.01)
    assert client.get(path).status_code == 404


def test_the_email_is_in_the_readers_language(client, reader, eager_celery, django_capture_on_commit_callbacks):
    Subscriber.objects.filter(pk=reader.pk).update(language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_preferences(reader) + "export/")
    assert mail.outbox[0].subject == "你在 AI 行业动态 的数据"


def test_requests_are_limited_and_the_page_does_not_tell(client, reader, eager_celery, django_capture_on_commit_callbacks):
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(_preferences(reader) + "export/")
        assert response.status_code == 302 and response["Location"].endswith("?export=sent")
    assert len(mail.outbox) == 3


def test_the_export_request_is_a_post_with_a_csrf_token(reader):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.get(_preferences(reader) + "export/").status_code == 405
    assert strict.post(_preferences(reader) + "export/").status_code == 403
    assert mail.outbox == []
