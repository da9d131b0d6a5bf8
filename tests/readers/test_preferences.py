"""The preference centre: categories, time zone, language, unsubscribe, and the data download."""

import pytest
from django.test import Client

from digests.links import reader_links, reader_token
from digests.models import Subscriber
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db
S = Subscriber.Status


@pytest.fixture
def reader(categories):
    return make_reader("prefs@example.com", categories=categories[:1], language="zh-hans")


def prefs_path(reader):
    return f"/preferences/{reader_token(reader.key, 'preferences')}/"


def test_the_link_in_every_email_opens_the_page_with_the_current_choices(client, reader, categories, settings):
    path = reader_links(reader.key).preferences_url.removeprefix(settings.SITE_URL)
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "prefs@example.com" in body
    assert body.count('type="checkbox"') == 3
    assert body.count(" checked>") == 2  # the one category and the reader's frequency
    assert '<input type="radio" name="frequency" value="daily"' in body
    assert 'name="timezone"' in body and "Asia/Shanghai" in body and 'name="language"' in body
    assert "/unsubscribe/" in body and "/export/" in body


def test_a_reader_changes_categories_timezone_and_language(client, reader, categories):
    response = client.post(
        prefs_path(reader),
        {"categories": [categories[1].pk, categories[2].pk], "timezone": "Europe/Berlin", "language": "en"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "Your changes are saved" in response.content.decode()
    reader.refresh_from_db()
    assert set(reader.categories.all()) == set(categories[1:])
    assert reader.timezone == "Europe/Berlin" and reader.tz_name == "Europe/Berlin"
    assert reader.language == "en"
    assert reader.status == S.ACTIVE


def test_an_empty_time_zone_means_the_sites(client, reader, categories, settings):
    client.post(prefs_path(reader), {"categories": [categories[0].pk], "timezone": "", "language": "zh-hans"})
    reader.refresh_from_db()
    assert reader.timezone == "" and reader.tz_name == settings.TIME_ZONE


@pytest.mark.parametrize(
    "data, error",
    [
        ({"timezone": "Mars/Olympus_Mons", "language": "en"}, "Select a valid choice"),
        ({"timezone": "", "language": "fr"}, "Select a valid choice"),
        ({"timezone": "", "language": "en", "categories": []}, "Choose at least one category"),
    ],
)
def test_bad_choices_are_refused_with_a_message(client, reader, categories, data, error):
    data.setdefault("categories", [categories[1].pk])
    response = client.post(prefs_path(reader), data, HTTP_ACCEPT_LANGUAGE="en")
    assert error in response.content.decode()
    reader.refresh_from_db()
    assert list(reader.categories.all()) == [categories[0]] and reader.timezone == "" and reader.language == "zh-hans"


def test_an_inactive_category_the_reader_has_is_not_dropped_silently(client, reader, categories):
    reader.categories.add(categories[2])
    categories[2].is_active = False
    categories[2].save()
    client.post(prefs_path(reader), {"categories": [categories[1].pk], "timezone": "", "language": "en"})
    assert set(reader.categories.all()) == {categories[1], categories[2]}


def test_the_form_needs_a_csrf_token(reader, categories):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(prefs_path(reader), {"categories": [categories[1].pk], "timezone": "", "language": "en"})
    assert response.status_code == 403
    assert list(reader.categories.all()) == [categories[0]]


def test_a_tampered_or_foreign_token_gives_a_friendly_404(client, reader):
    token = reader_token(reader.key, "preferences")
    for bad in (token[:-1] + ("x" if token[-1] != "x" else "y"), reader_token(reader.key, "unsubscribe"), "abc"):
        response = client.get(f"/preferences/{bad}/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404 and "This link does not work" in response.content.decode()


def test_an_unsubscribed_reader_is_offered_to_subscribe_again(client, categories):
    gone = make_reader("gone@example.com", status=S.UNSUBSCRIBED)
    response = client.get(prefs_path(gone), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "You are not subscribed" in response.content.decode() and "/subscribe/" in response.content.decode()
    client.post(prefs_path(gone), {"categories": [categories[0].pk], "timezone": "", "language": "en"})
    assert not gone.categories.exists()


def test_the_page_is_in_chinese_or_english(client, reader):
    english = client.get(prefs_path(reader), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in english and "Save changes" in english
    chinese = client.get(prefs_path(reader), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="zh-hans">' in chinese
    assert 'action="/i18n/setlang/"' in chinese


def test_the_language_switch_changes_the_page_language(client, reader):
    path = prefs_path(reader)
    response = client.post("/i18n/setlang/", {"language": "en", "next": path}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 302 and response["Location"] == path
    assert '<html lang="en">' in client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


def test_reader_pages_are_not_cached(client, reader):
    assert "no-store" in client.get(prefs_path(reader))["Cache-Control"]
