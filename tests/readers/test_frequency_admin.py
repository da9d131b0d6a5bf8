"""The subscriber admin shows and edits how often a reader hears from us; every change is a recorded move."""

import pytest

from digests.models import FrequencyChange, Subscriber
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db
LIST = "/admin/digests/subscriber/"


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def readers(categories):
    return {
        "daily": make_reader("daily@example.com", categories=categories[:1]),
        "weekly": make_reader("weekly@example.com", categories=categories[:1], frequency="weekly", weekly_day="sun"),
        "both": make_reader("both@example.com", categories=categories[:1], frequency="both"),
    }


def change_form_data(response, **changes) -> dict:
    """What the browser posts back from a change form it was shown, with ``changes`` typed in."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form.initial.get(name)
        if name == "categories":
            data[name] = [c.pk for c in value]
        elif value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        data[f"{inline.formset.prefix}-TOTAL_FORMS"] = data[f"{inline.formset.prefix}-INITIAL_FORMS"] = "0"
    return {**data, **changes}


def test_the_list_shows_and_filters_by_frequency(admin_client, readers):
    body = admin_client.get(LIST).content.decode()
    assert "Daily and weekly" in body and "?frequency__exact=weekly" in body
    body = admin_client.get(LIST, {"frequency__exact": "weekly"}).content.decode()
    assert "weekly@example.com" in body and "daily@example.com" not in body and "both@example.com" not in body


def test_editing_the_frequency_records_the_move_and_shows_it(admin_client, readers):
    reader = readers["daily"]
    url = f"{LIST}{reader.pk}/change/"
    page = admin_client.get(url)
    assert 'name="frequency"' in page.content.decode() and 'name="weekly_day"' in page.content.decode()
    response = admin_client.post(url, change_form_data(page, frequency="weekly", weekly_day="wed"))
    assert response.status_code == 302
    reader.refresh_from_db()
    assert (reader.frequency, reader.weekly_day) == ("weekly", "wed")
    assert list(FrequencyChange.objects.values_list("old", "new", "via")) == [("daily", "weekly", "admin")]
    # Saving again without a change is no move; the history shows on the form.
    page = admin_client.get(url)
    admin_client.post(url, change_form_data(page, name="Renamed"))
    assert FrequencyChange.objects.count() == 1
    assert "Frequency changes" in admin_client.get(url).content.decode()


def test_a_subscriber_added_in_the_admin_chooses_without_a_move(admin_client, categories):
    data = {
        "email": "new@example.com",
        "categories": [categories[0].pk],
        "language": "en",
        "frequency": "both",
        "weekly_day": "fri",
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
    }
    assert admin_client.post(f"{LIST}add/", data).status_code == 302
    assert Subscriber.objects.values_list("frequency", "weekly_day").get() == ("both", "fri")
    assert not FrequencyChange.objects.exists()


def test_the_bulk_actions_set_the_frequency_and_record_only_real_moves(admin_client, readers):
    selected = [r.pk for r in readers.values()]
    response = admin_client.post(LIST, {"action": "set_frequency_weekly", "_selected_action": selected}, follow=True)
    assert "2 subscribers now get: Weekly." in response.content.decode()
    assert set(Subscriber.objects.values_list("frequency", flat=True)) == {"weekly"}
    assert sorted(FrequencyChange.objects.values_list("old", "new", "via")) == [
        ("both", "weekly", "admin"),
        ("daily", "weekly", "admin"),
    ]
    # The weekly reader kept their weekday.
    readers["weekly"].refresh_from_db()
    assert readers["weekly"].weekly_day == "sun"
    admin_client.post(LIST, {"action": "set_frequency_daily", "_selected_action": [readers["daily"].pk]})
    readers["daily"].refresh_from_db()
    assert readers["daily"].frequency == "daily" and FrequencyChange.objects.count() == 3
