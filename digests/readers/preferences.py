"""The preference centre's changes: categories, time zone and language."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.db import transaction

from digests.models import Category, FrequencyChange, Subscriber
from digests.readers.frequency import subscriber_frequency_set

S = Subscriber.Status
EDITABLE = {S.PENDING, S.ACTIVE}


@lru_cache(maxsize=1)
def timezone_choices() -> tuple[str, ...]:
    """Every IANA time zone name this machine knows, sorted (the preference centre's select)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def preferences_link_max_age() -> int:
    """Seconds a preference link stays valid (PREFERENCES_LINK_MAX_AGE_DAYS); each email carries a fresh one."""
    return settings.PREFERENCES_LINK_MAX_AGE_DAYS * 86400


def timezone_is_valid(name: str) -> bool:
    return name in timezone_choices()


def subscriber_preferences_editable(subscriber: Subscriber) -> bool:
    """Only readers who are on the list (or about to be) can change what they get."""
    return subscriber.status in EDITABLE


@transaction.atomic
def subscriber_update_preferences(
    subscriber: Subscriber,
    *,
    categories: Iterable[Category],
    timezone: str,
    language: str,
    frequency: str | None = None,
    weekly_day: str | None = None,
    via: str = FrequencyChange.Via.PREFERENCES,
) -> None:
    """Replace the reader's active categories, time zone ('' = the site's), language and, when given, frequency.

    A changed frequency is recorded as a move ``via`` the preference centre
    (or the API); ``weekly_day`` None keeps the reader's weekday.

    Inactive categories the reader had stay chosen: they were not offered on
    the page, so leaving them out is not a choice to drop them.
    """
    if timezone and not timezone_is_valid(timezone):
        raise ValueError(f"unknown time zone {timezone!r}")
    if language not in Subscriber.Language.values:
        raise ValueError(f"unknown language {language!r}")
    chosen = {c.pk for c in categories}
    kept_inactive = set(subscriber.categories.filter(is_active=False).values_list("pk", flat=True))
    subscriber.categories.set(chosen | kept_inactive)
    subscriber.timezone = timezone
    subscriber.language = language
    subscriber.save(update_fields=["timezone", "language", "updated_at"])
    if frequency or weekly_day:
        subscriber_frequency_set(subscriber, frequency=frequency or subscriber.frequency, weekly_day=weekly_day, via=via)
