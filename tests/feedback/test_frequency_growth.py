"""The list-growth page: readers per frequency, and the readers the weekly edition kept from unsubscribing."""

import datetime

import pytest
from django.utils import timezone

from digests.feedback.statistics import frequency_mix
from digests.models import FrequencyChange, Subscriber
from digests.readers.frequency import subscriber_frequency_set, subscriber_switch_to_weekly
from digests.readers.unsubscribe import subscriber_unsubscribe
from tests.helpers.readers import make_reader

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
Via = FrequencyChange.Via


@pytest.fixture
def moved():
    """Five daily, two both, three weekly readers (and one unsubscribed); moves to weekly of several kinds and ages."""
    readers = [make_reader(f"d{i}@example.com") for i in range(5)]
    readers += [make_reader(f"b{i}@example.com", frequency="both") for i in range(2)]
    make_reader("w0@example.com", frequency="weekly")
    make_reader("gone@example.com", status=Subscriber.Status.UNSUBSCRIBED)
    kept_from_daily, kept_from_both, chose, old, kept_then_left = readers[0], readers[5], readers[1], readers[2], readers[3]
    subscriber_switch_to_weekly(kept_from_daily)
    subscriber_switch_to_weekly(kept_from_daily)  # a double click: one reader kept
    subscriber_switch_to_weekly(kept_from_both)
    subscriber_frequency_set(chose, frequency="weekly", via=Via.PREFERENCES)
    subscriber_switch_to_weekly(old)
    FrequencyChange.objects.filter(subscriber=old).update(created_at=timezone.now() - datetime.timedelta(days=40))
    subscriber_switch_to_weekly(kept_then_left)
    subscriber_unsubscribe(kept_then_left)
    # Not a move to weekly: weekly to daily, and daily to both.
    subscriber_frequency_set(readers[4], frequency="both", via=Via.ADMIN)


def test_readers_per_frequency_and_moves_to_weekly_in_the_period(moved):
    mix = frequency_mix(days=30)
    # Active readers only: the unsubscribed ones are not on the list.
    assert mix.readers == {"daily": 0, "weekly": 5, "both": 2}
    assert mix.rows() == [("Daily", 0), ("Weekly", 5), ("Daily and weekly", 2)]
    assert mix.to_weekly == 4  # the three switches this month and the preference-centre move
    assert mix.kept_by_weekly == 3
    assert mix.kept_still_active == 2
    # Ninety days reach the older switch too.
    assert frequency_mix(days=90).kept_by_weekly == 4


def test_the_growth_page_shows_the_frequency_table_and_the_kept_readers(client, django_user_model, settings, moved):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    body = client.get("/admin/digests/digest/growth/?days=30", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    frequency_table = body.split('id="frequency-mix"')[1].split("</table>")[0]
    assert '<td>Weekly</td><td class="number">5</td>' in frequency_table
    assert '<td>Daily and weekly</td><td class="number">2</td>' in frequency_table
    moves_table = body.split('id="weekly-moves"')[1].split("</table>")[0]
    assert "Moves to the weekly edition, last 30 days" in moves_table
    cells = [c.split("</td>")[0] for c in moves_table.split('<td class="number">')[1:]]
    assert cells == ["4", "3", "2"]
