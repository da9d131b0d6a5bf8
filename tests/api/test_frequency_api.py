"""The API reads and writes how often a reader hears from us, with validation, and records the moves it makes."""

from __future__ import annotations

import pytest
import yaml

from digests.models import FrequencyChange, Subscriber
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reader_reads_and_changes_frequency_and_weekday(api, categories):
    reader = make_reader("reader@example.com", categories=categories[:1])
    shown = api.get(f"subscribers/{reader.key}/").json()
    assert (shown["frequency"], shown["weekly_day"]) == ("daily", "sat")

    answer = api.patch(f"subscribers/{reader.key}/", json={"frequency": "weekly", "weekly_day": "sun"})

    assert answer.status_code == 200 and (answer.json()["frequency"], answer.json()["weekly_day"]) == ("weekly", "sun")
    assert list(FrequencyChange.objects.values_list("old", "new", "via")) == [("daily", "weekly", "api")]
    # Other preferences alone leave the frequency be.
    api.patch(f"subscribers/{reader.key}/", json={"language": "en"})
    reader.refresh_from_db()
    assert (reader.frequency, reader.weekly_day, reader.language) == ("weekly", "sun", "en")
    assert FrequencyChange.objects.count() == 1


def test_bad_values_are_400_naming_the_field(api, categories):
    reader = make_reader("reader@example.com", categories=categories[:1])
    answer = api.patch(f"subscribers/{reader.key}/", json={"frequency": "hourly", "weekly_day": "someday"})
    assert answer.status_code == 400
    assert {e["field"] for e in answer.json()["errors"]} == {"frequency", "weekly_day"}
    reader.refresh_from_db()
    assert reader.frequency == "daily"


@pytest.mark.parametrize("confirmed", [False, True])
def test_a_new_reader_can_be_added_weekly(api, categories, eager_celery, confirmed):
    body = {"email": "new@example.com", "frequency": "both", "weekly_day": "tue"}
    if confirmed:
        body |= {"confirmed": True, "consent_source": "Our events signup sheet"}
    assert api.post("subscribers/", json=body).status_code == 202
    assert Subscriber.objects.values_list("frequency", "weekly_day").get() == ("both", "tue")
    assert not FrequencyChange.objects.exists()


def test_the_schema_documents_both_fields(api):
    schema = yaml.safe_load(api.get("schema/", key=None).content)
    components = schema["components"]["schemas"]
    for name in ("SubscriberOutput", "SubscriberInput"):
        assert {"frequency", "weekly_day"} <= set(components[name]["properties"]), name
    patch = schema["paths"]["/api/v1/subscribers/{id}/"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"frequency", "weekly_day"} <= set(components[patch["$ref"].rsplit("/", 1)[1]]["properties"])
