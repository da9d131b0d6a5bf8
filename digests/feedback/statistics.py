"""What happened to a send, in numbers: the one source for the admin page, the charts and digest_stats.

Counts are of readers (distinct deliveries or subscribers), not of events, so
a provider reporting twice or a reader clicking five times counts once.
Opens are approximate: privacy proxies (Apple Mail) fetch the pixel for
every message and some clients block images.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from digests.models import Delivery, DeliveryEvent, Digest, FrequencyChange, Subscriber

# The measures in the order the admin page and `digest_stats` show them.
MEASURES = [
    ("audience", _("Audience")),
    ("sent", _("Sent")),
    ("delivered", _("Delivered")),
    ("bounced_hard", _("Bounced (hard)")),
    ("bounced_soft", _("Bounced (soft)")),
    ("complained", _("Complaints")),
    ("unsubscribed", _("Unsubscribes")),
    ("unique_opens", _("Unique opens (approximate)")),
    ("unique_clicks", _("Unique clicks")),
]


@dataclass(frozen=True)
class Rate:
    count: int
    base: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.count / self.base, 2) if self.base else None

    def __str__(self) -> str:
        return "–" if self.percent is None else f"{self.percent:.2f}%"


@dataclass(frozen=True)
class DigestStats:
    audience: int
    sent: int
    delivered: int
    bounced_hard: int
    bounced_soft: int
    complained: int
    unsubscribed: int
    unique_opens: int
    unique_clicks: int
    # Rates of engagement are of delivered mail; without delivery reports
    # (plain SMTP) they fall back to sent mail.
    delivered_known: bool = field(default=False)

    @property
    def bounced(self) -> int:
        return self.bounced_hard + self.bounced_soft

    @property
    def engagement_base(self) -> int:
        return self.delivered if self.delivered_known else self.sent

    def rates(self) -> dict[str, Rate]:
        base = self.engagement_base
        return {
            "sent": Rate(self.sent, self.audience),
            "delivered": Rate(self.delivered, self.sent),
            "bounced_hard": Rate(self.bounced_hard, self.sent),
            "bounced_soft": Rate(self.bounced_soft, self.sent),
            "complained": Rate(self.complained, base),
            "unsubscribed": Rate(self.unsubscribed, base),
            "unique_opens": Rate(self.unique_opens, base),
            "unique_clicks": Rate(self.unique_clicks, base),
        }

    def rows(self) -> list[tuple[str, int, Rate | None]]:
        """(label, readers, rate or None) for every measure, in display order."""
        rates = self.rates()
        return [(str(label), getattr(self, key), rates.get(key)) for key, label in MEASURES]


@dataclass(frozen=True)
class ClickCount:
    label: str
    unique_readers: int
    clicks: int
    url: str = ""


@dataclass(frozen=True)
class GrowthDay:
    day: datetime.date
    subscribes: int
    confirmations: int
    unsubscribes: int


def _distinct(queryset, field_name: str) -> int:
    return queryset.exclude(**{f"{field_name}__isnull": True}).values(field_name).distinct().count()


def _next_send_started(digest: Digest) -> datetime.datetime | None:
    return (
        # The next issue of the same edition: a daily sent in the week does not end a weekly's window.
        Digest.objects.filter(edition=digest.edition, issue_date__gt=digest.issue_date, send_started_at__isnull=False)
        .order_by("issue_date")
        .values_list("send_started_at", flat=True)
        .first()
    )


def digest_stats(digest: Digest) -> DigestStats:
    """Audience, sent, delivered, bounces, complaints, unsubscribes, unique opens and clicks of one digest."""
    deliveries = Delivery.objects.filter(digest=digest)
    events = DeliveryEvent.objects.filter(delivery__digest=digest)
    clicks = DeliveryEvent.objects.filter(Q(delivery__digest=digest) | Q(item__digest=digest), event_type="clicked")
    delivered = _distinct(events.filter(event_type="delivered"), "delivery_id")

    # Unsubscribes: reported by the provider for this message, or made through
    # our own link between this send and the next one.
    unsub_readers = set(events.filter(event_type="unsubscribed").values_list("subscriber_id", flat=True))
    sent_rows = deliveries.filter(status=Delivery.Status.SENT, sent_at__isnull=False)
    first_sent = sent_rows.order_by("sent_at").values_list("sent_at", flat=True).first()
    if first_sent:
        window = Q(subscriber__unsubscribed_at__gte=first_sent)
        next_start = _next_send_started(digest)
        if next_start:
            window &= Q(subscriber__unsubscribed_at__lt=next_start)
        unsub_readers |= set(
            sent_rows.filter(window, subscriber__status=Subscriber.Status.UNSUBSCRIBED).values_list("subscriber_id", flat=True)
        )
    unsub_readers.discard(None)

    return DigestStats(
        audience=deliveries.count(),
        sent=deliveries.filter(status=Delivery.Status.SENT).count(),
        delivered=delivered,
        bounced_hard=_distinct(events.filter(event_type__in=("bounced", "rejected"), bounce_type="hard"), "delivery_id"),
        bounced_soft=_distinct(events.filter(event_type="bounced", bounce_type="soft"), "delivery_id"),
        complained=_distinct(events.filter(event_type="complained"), "subscriber_id"),
        unsubscribed=len(unsub_readers),
        unique_opens=_distinct(events.filter(event_type="opened"), "subscriber_id"),
        unique_clicks=_distinct(clicks, "subscriber_id"),
        delivered_known=delivered > 0,
    )


def _click_counts(digest: Digest, group_by: str) -> dict:
    rows = (
        DeliveryEvent.objects.filter(item__digest=digest, event_type="clicked")
        .values(group_by)
        .annotate(clicks=Count("id"), readers=Count("subscriber", distinct=True))
    )
    return {row[group_by]: (row["readers"], row["clicks"]) for row in rows}


def digest_category_clicks(digest: Digest) -> list[ClickCount]:
    """Unique clicking readers and total clicks per category of the digest, in the digest's order."""
    counts = _click_counts(digest, "item__category")
    categories = []
    for item in digest.items.select_related("category"):
        if item.category not in categories:
            categories.append(item.category)
    return [
        ClickCount(
            label=category.name, unique_readers=counts.get(category.pk, (0, 0))[0], clicks=counts.get(category.pk, (0, 0))[1]
        )
        for category in categories
    ]


def digest_item_clicks(digest: Digest) -> list[ClickCount]:
    """Unique clicking readers and total clicks per item, in the digest's order."""
    counts = _click_counts(digest, "item")
    return [
        ClickCount(
            label=item.title,
            unique_readers=counts.get(item.pk, (0, 0))[0],
            clicks=counts.get(item.pk, (0, 0))[1],
            url=item.source_url,
        )
        for item in digest.items.select_related("category")
    ]


def _period(days: int, end: datetime.date | None) -> tuple[ZoneInfo, datetime.date, datetime.datetime, datetime.datetime]:
    """The site's time zone, the first day, and the bounds of ``days`` days ending with ``end`` (default today)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    end = end or timezone.localdate(timezone=tz)
    start = end - datetime.timedelta(days=days - 1)
    since = datetime.datetime.combine(start, datetime.time.min, tzinfo=tz)
    until = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    return tz, start, since, until


def list_growth(*, days: int = 30, end: datetime.date | None = None) -> list[GrowthDay]:
    """Subscribes (rows created), confirmations and unsubscribes per day in the site's time zone.

    A reader who confirmed or unsubscribed twice counts on the latest day only:
    the subscriber row keeps one timestamp of each.
    """
    tz, start, since, until = _period(days, end)

    def per_day(field_name: str) -> dict[datetime.date, int]:
        rows = (
            Subscriber.objects.filter(**{f"{field_name}__gte": since, f"{field_name}__lt": until})
            .annotate(day=TruncDate(field_name, tzinfo=tz))
            .values("day")
            .annotate(n=Count("id"))
        )
        return {row["day"]: row["n"] for row in rows}

    created, confirmed, unsubscribed = per_day("created_at"), per_day("confirmed_at"), per_day("unsubscribed_at")
    return [
        GrowthDay(day=d, subscribes=created.get(d, 0), confirmations=confirmed.get(d, 0), unsubscribes=unsubscribed.get(d, 0))
        for d in (start + datetime.timedelta(days=i) for i in range(days))
    ]


@dataclass(frozen=True)
class FrequencyMix:
    """How often the list hears from us, and the moves to the weekly edition in a period."""

    readers: dict[str, int]  # active readers per frequency, every frequency listed
    to_weekly: int  # moves from daily (or both) to weekly only, every way
    kept_by_weekly: int  # of those, made on the unsubscribe page instead of unsubscribing
    kept_still_active: int  # of those readers, how many are still on the list today

    def rows(self) -> list[tuple[str, int]]:
        return [(label, self.readers[value]) for value, label in Subscriber.Frequency.choices]


def frequency_mix(*, days: int = 30, end: datetime.date | None = None) -> FrequencyMix:
    """Active readers per frequency now, and the moves to weekly in the ``days`` days ending with ``end``.

    Moves are counted once per reader: clicking the switch twice, or moving
    back and forth, is still one reader kept.
    """
    _tz, _start, since, until = _period(days, end)
    counted = dict(
        Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).order_by().values_list("frequency").annotate(n=Count("id"))
    )
    moves = FrequencyChange.objects.filter(
        created_at__gte=since,
        created_at__lt=until,
        old__in=[Subscriber.Frequency.DAILY, Subscriber.Frequency.BOTH],
        new=Subscriber.Frequency.WEEKLY,
    )
    kept = moves.filter(via=FrequencyChange.Via.UNSUBSCRIBE_PAGE)
    return FrequencyMix(
        readers={value: counted.get(value, 0) for value in Subscriber.Frequency.values},
        to_weekly=_distinct(moves, "subscriber_id"),
        kept_by_weekly=_distinct(kept, "subscriber_id"),
        kept_still_active=_distinct(kept.filter(subscriber__status=Subscriber.Status.ACTIVE), "subscriber_id"),
    )


def last_event_at(digest: Digest) -> datetime.datetime | None:
    return DeliveryEvent.objects.filter(delivery__digest=digest).aggregate(last=Max("received_at"))["last"]
