"""How often a reader hears from us: the choice on signup and preferences, the moves it records, the unsubscribe page's switch."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from digests.links import reader_key_from_token, reader_links, reader_token
from digests.models import Delivery, Digest, FrequencyChange, Subscriber
from digests.readers.frequency import FrequencyError, subscriber_frequency_set
from tests.helpers.readers import make_reader

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
F = Subscriber.Frequency
Via = FrequencyChange.Via
ONE_CLICK = "List-Unsubscribe=One-Click"


def moves(reader=None):
    rows = FrequencyChange.objects.order_by("pk")
    if reader is not None:
        rows = rows.filter(subscriber=reader)
    return [(m.old, m.new, m.via) for m in rows]


# --- the one service ---------------------------------------------------------


def test_a_move_is_recorded_once_and_saving_the_same_frequency_records_nothing():
    reader = make_reader("often@example.com")
    assert (reader.frequency, reader.weekly_day) == ("daily", "sat")
    assert subscriber_frequency_set(reader, frequency="weekly", weekly_day="sun", via=Via.PREFERENCES) is True
    assert subscriber_frequency_set(reader, frequency="weekly", via=Via.PREFERENCES) is False
    # Only the weekday: saved, but not a move.
    assert subscriber_frequency_set(reader, frequency="weekly", weekly_day="MON", via=Via.PREFERENCES) is False
    reader.refresh_from_db()
    assert (reader.frequency, reader.weekly_day) == ("weekly", "mon")
    assert moves(reader) == [("daily", "weekly", "preferences")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"frequency": "monthly"}, "unknown frequency “monthly”"), ({"frequency": "weekly", "weekly_day": "someday"}, "weekday")],
)
def test_bad_values_are_refused_and_change_nothing(fields, message):
    reader = make_reader("strict@example.com")
    with pytest.raises(FrequencyError, match=message):
        subscriber_frequency_set(reader, via=Via.ADMIN, **fields)
    reader.refresh_from_db()
    assert (reader.frequency, reader.weekly_day) == ("daily", "sat") and not moves()


# --- signup ------------------------------------------------------------------


def test_the_signup_form_offers_the_frequency_with_daily_and_saturday_preselected(client, categories):
    body = client.get("/subscribe/").content.decode()
    assert re.search(r'<input type="radio" name="frequency" value="daily"[^>]* checked>', body)
    assert 'value="weekly"' in body and 'value="both"' in body
    assert re.search(r'<option value="sat" selected>Saturday</option>', body)
    # The weekday hides for daily readers with CSS alone: the page needs no script.
    assert "<script" not in body and ':has(input[value="daily"]:checked) .weekly-day' in body


def test_a_new_reader_chooses_weekly_on_sunday_and_that_is_not_a_move(client, on_commit, categories):
    data = {"email": "weekly@example.com", "categories": [categories[0].pk], "frequency": "weekly", "weekly_day": "sun"}
    assert on_commit(client.post, "/subscribe/", data).status_code == 200
    reader = Subscriber.objects.get()
    assert (reader.status, reader.frequency, reader.weekly_day) == ("pending", "weekly", "sun")
    assert not moves()


def test_a_form_without_the_choice_keeps_the_defaults(client, on_commit, categories):
    on_commit(client.post, "/subscribe/", {"email": "plain@example.com", "categories": [categories[0].pk]})
    assert Subscriber.objects.values_list("frequency", "weekly_day").get() == ("daily", "sat")


def test_a_bad_frequency_on_the_form_is_shown_next_to_the_field(client, categories):
    response = client.post("/subscribe/", {"email": "x@example.com", "categories": [categories[0].pk], "frequency": "hourly"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_signing_up_again_follows_the_rules_of_categories(client, on_commit, categories):
    pending = make_reader("pending@example.com", status=Subscriber.Status.PENDING)
    active = make_reader("active@example.com")
    for reader in (pending, active):
        data = {"email": reader.email, "categories": [categories[0].pk], "frequency": "both", "weekly_day": "wed"}
        on_commit(client.post, "/subscribe/", data)
    pending.refresh_from_db()
    active.refresh_from_db()
    # Until confirmed the latest choice counts; an active reader changes it only from the preference centre.
    assert (pending.frequency, pending.weekly_day) == ("both", "wed")
    assert (active.frequency, active.weekly_day) == ("daily", "sat")
    assert moves() == [("daily", "both", "signup")]


# --- the preference centre ---------------------------------------------------


def test_the_preference_centre_shows_and_saves_the_frequency(client, categories, settings):
    reader = make_reader("prefs@example.com", categories=categories[:1], frequency="both", weekly_day="fri")
    path = reader_links(reader.key).preferences_url.removeprefix(settings.SITE_URL)
    body = client.get(path).content.decode()
    assert re.search(r'<input type="radio" name="frequency" value="both"[^>]* checked>', body)
    assert '<option value="fri" selected>' in body
    data = {"categories": [categories[0].pk], "timezone": "", "language": "en", "frequency": "weekly", "weekly_day": "mon"}
    assert "Your changes are saved." in client.post(path, data).content.decode()
    client.post(path, data)  # saved twice: still one move
    reader.refresh_from_db()
    assert (reader.frequency, reader.weekly_day) == ("weekly", "mon")
    assert moves(reader) == [("both", "weekly", "preferences")]


# --- the unsubscribe page ----------------------------------------------------


@pytest.fixture
def strict():
    return Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")


def unsubscribe_path(reader, settings):
    return reader_links(reader.key).unsubscribe_url.removeprefix(settings.SITE_URL)


def switch(client, reader, settings):
    """What a reader's browser does: open the unsubscribe page, press the switch with the page's CSRF token."""
    page = client.get(unsubscribe_path(reader, settings)).content.decode()
    action = re.search(r'<form method="post" action="([^"]+/weekly/)">', page).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.split(action)[1]).group(1)
    return client.post(action, {"csrfmiddlewaretoken": token})


@pytest.mark.parametrize("frequency", ["daily", "both"])
def test_the_switch_keeps_a_reader_on_the_weekly_edition_instead_of_unsubscribing(strict, settings, frequency):
    reader = make_reader("tired@example.com", frequency=frequency, weekly_day="sun")
    page = strict.get(unsubscribe_path(reader, settings)).content.decode()
    assert "Switch to the weekly edition" in page and "every Sunday" in page
    response = switch(strict, reader, settings)
    assert response.status_code == 200
    body = response.content.decode()
    assert "You will get the weekly edition" in body and "every Sunday" in body
    # The page links to this reader's preferences (the token carries the second it was signed in,
    # so it is read off the page and verified rather than signed again here and compared).
    tokens = re.findall(r'/preferences/([^/"]+)/', body)
    assert tokens and all(reader_key_from_token(token, "preferences") == reader.key for token in tokens)
    reader.refresh_from_db()
    assert (reader.status, reader.frequency, reader.weekly_day) == ("active", "weekly", "sun")
    assert reader.unsubscribed_at is None
    assert moves(reader) == [(frequency, "weekly", "unsubscribe_page")]
    # Pressing it again (a double click, the back button) is not a second move.
    strict.post(unsubscribe_path(reader, settings) + "weekly/", {"csrfmiddlewaretoken": strict.cookies["csrftoken"].value})
    assert len(moves(reader)) == 1


def test_a_weekly_reader_is_offered_only_the_unsubscribe(client, settings):
    reader = make_reader("weekly@example.com", frequency="weekly")
    body = client.get(unsubscribe_path(reader, settings)).content.decode()
    assert "Switch to the weekly edition" not in body and "/weekly/" not in body
    assert body.count("<button") == 2  # unsubscribe and the language switch


def test_the_switch_needs_the_pages_csrf_token_and_a_good_link(strict, settings):
    reader = make_reader("guarded@example.com")
    assert strict.post(unsubscribe_path(reader, settings) + "weekly/").status_code == 403
    assert strict.get(unsubscribe_path(reader, settings) + "weekly/").status_code == 405
    for bad in (reader_token(reader.key, "preferences"), "nope"):
        assert Client().post(f"/unsubscribe/{bad}/weekly/").status_code == 404
    reader.refresh_from_db()
    assert reader.frequency == "daily" and not moves()


def test_a_reader_who_left_meanwhile_is_not_switched_back(client, settings):
    reader = make_reader("gone@example.com", status=Subscriber.Status.UNSUBSCRIBED)
    response = client.post(unsubscribe_path(reader, settings) + "weekly/")
    # Back to the reader's own unsubscribe page (a fresh token: its timestamp may be a second later).
    assert response.status_code == 302
    token = re.fullmatch(r"/unsubscribe/([^/]+)/", response["Location"]).group(1)
    assert reader_key_from_token(token, "unsubscribe") == reader.key
    reader.refresh_from_db()
    assert (reader.status, reader.frequency) == ("unsubscribed", "daily") and not moves()


def test_one_click_still_unsubscribes_a_daily_reader_at_once(settings):
    reader = make_reader("oneclick@example.com")
    provider = Client(enforce_csrf_checks=True)
    response = provider.post(unsubscribe_path(reader, settings), ONE_CLICK, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    reader.refresh_from_db()
    assert (reader.status, reader.frequency) == ("unsubscribed", "daily") and not moves()


def test_a_move_withdraws_pending_deliveries_of_the_edition_the_reader_left(settings):
    reader = make_reader("early@example.com", frequency="both")
    daily = Digest.objects.create(issue_date=datetime.date(2026, 2, 6), title="AI 行业动态")
    weekly = Digest.objects.create(issue_date=datetime.date(2026, 2, 7), title="本周", edition=Digest.Edition.WEEKLY)
    sent = Digest.objects.create(issue_date=datetime.date(2026, 2, 5), title="昨天")
    later = timezone.now() + datetime.timedelta(hours=1)
    pending_daily = Delivery.objects.create(digest=daily, subscriber=reader, variant="1", not_before=later)
    pending_weekly = Delivery.objects.create(digest=weekly, subscriber=reader, variant="1", not_before=later)
    done = Delivery.objects.create(
        digest=sent, subscriber=reader, variant="1", status=Delivery.Status.SENT, not_before=timezone.now()
    )
    switch(Client(enforce_csrf_checks=True), reader, settings)
    for delivery in (pending_daily, pending_weekly, done):
        delivery.refresh_from_db()
    assert pending_daily.status == Delivery.Status.CANCELLED
    assert pending_weekly.status == Delivery.Status.PENDING and done.status == Delivery.Status.SENT
