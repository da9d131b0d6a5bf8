"""How often a reader hears from us: daily, weekly or both, and the weekday of the weekly edition.

Every way a reader's frequency changes (the preference centre, the unsubscribe
page's "switch to weekly", the admin, the API) goes through
``subscriber_frequency_set``, which records a FrequencyChange whenever the
frequency really moves: the list-growth page counts those moves.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from digests.models import Delivery, Digest, FrequencyChange, Subscriber

F = Subscriber.Frequency
Via = FrequencyChange.Via
FREQUENCIES = frozenset(F.values)  # F.values builds a new list on every use

# Spellings a CSV file may use for a weekday, besides mon … sun.
WEEKDAY_ALIASES = {
    **{day.value: day.value for day in Subscriber.Weekday},
    **{
        name: day.value
        for names, day in zip(
            (
                ("monday", "周一", "星期一"),
                ("tuesday", "周二", "星期二"),
                ("wednesday", "周三", "星期三"),
                ("thursday", "周四", "星期四"),
                ("friday", "周五", "星期五"),
                ("saturday", "周六", "星期六"),
                ("sunday", "周日", "星期日", "周天", "星期天"),
            ),
            Subscriber.Weekday,
            strict=True,
        )
        for name in names
    },
}


class FrequencyError(ValueError):
    """A frequency or weekday that is not one of ours; the message says which and what is allowed."""


def frequency_normalise(value: str) -> str:
    """``value`` as a Frequency value (case and spaces ignored); FrequencyError if it is none."""
    cleaned = (value or "").strip().lower()
    if cleaned not in FREQUENCIES:
        raise FrequencyError(_("unknown frequency “%(value)s” (use daily, weekly or both)") % {"value": (value or "").strip()})
    return cleaned


def weekday_normalise(value: str) -> str:
    """``value`` as a Weekday value: mon … sun, full English names or 周一 … 周日; FrequencyError if it is none."""
    cleaned = (value or "").strip().lower()
    if cleaned not in WEEKDAY_ALIASES:
        raise FrequencyError(
            _("unknown weekday “%(value)s” (use mon, tue, wed, thu, fri, sat or sun)") % {"value": (value or "").strip()}
        )
    return WEEKDAY_ALIASES[cleaned]


@transaction.atomic
def subscriber_frequency_set(subscriber: Subscriber, *, frequency: str, weekly_day: str | None = None, via: str) -> bool:
    """Give ``subscriber`` this ``frequency`` (and ``weekly_day``, when given); True if the frequency moved.

    A move is recorded as a FrequencyChange ``via`` the entry point that made
    it; saving the same frequency again records nothing. Only the weekday
    changing is saved but is not a move. Like an unsubscribe, a move takes
    effect at once: deliveries still pending of an edition the reader no
    longer takes are cancelled (a reader who leaves the daily at 07:55 does
    not get the 08:00 one).
    """
    frequency = frequency_normalise(frequency)
    weekly_day = weekday_normalise(weekly_day) if weekly_day else subscriber.weekly_day
    if via not in Via.values:
        raise FrequencyError(f"unknown source of a frequency change {via!r}")
    # Read the stored value under a lock: two clicks at once record one move.
    old = Subscriber.objects.select_for_update().filter(pk=subscriber.pk).values_list("frequency", flat=True).get()
    subscriber.frequency, subscriber.weekly_day = frequency, weekly_day
    subscriber.save(update_fields=["frequency", "weekly_day", "updated_at"])
    if old == frequency:
        return False
    FrequencyChange.objects.create(subscriber=subscriber, old=old, new=frequency, via=via)
    dropped = [edition for edition in Digest.Edition.values if not subscriber.receives(edition)]
    Delivery.objects.filter(subscriber_id=subscriber.pk, status=Delivery.Status.PENDING, digest__edition__in=dropped).update(
        status=Delivery.Status.CANCELLED,
        last_error="the reader's frequency no longer takes this edition",
        updated_at=timezone.now(),
    )
    return True


def subscriber_switch_to_weekly(subscriber: Subscriber) -> bool:
    """The unsubscribe page's other button: weekly from now on, on the weekday the reader already has."""
    return subscriber_frequency_set(subscriber, frequency=F.WEEKLY, via=Via.UNSUBSCRIBE_PAGE)


def switch_to_weekly_offered(subscriber: Subscriber) -> bool:
    """Whether the unsubscribe page offers the weekly edition: to active readers who still get dailies."""
    return subscriber.frequency != F.WEEKLY and subscriber.status == Subscriber.Status.ACTIVE
