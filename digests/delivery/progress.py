"""How far a send has got: counts, current rate, ETA and failures, for the admin and the CLI."""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field

from django.db.models import Min
from django.utils import timezone

from digests.delivery.ledger import deliveries_counts
from digests.models import Delivery, Digest

RATE_WINDOW_SECONDS = 60


@dataclass
class Progress:
    status: str
    audience: int
    sent: int
    failed: int
    skipped: int
    pending: int
    sending: int
    cancelled: int
    suppressed: int
    rate_per_second: float
    eta_seconds: int | None
    percent: float
    failures: list[dict] = field(default_factory=list)
    # Pending deliveries not yet due (a reader's local morning, a weekly reader's weekday), and the first of them.
    waiting: int = 0
    next_release: datetime.datetime | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["next_release"] = self.next_release.isoformat() if self.next_release else None
        return data


def digest_progress(digest: Digest, *, failures: int = 50, now: datetime.datetime | None = None) -> Progress:
    """The ledger's state for ``digest``: audience (every row), outcomes, the last minute's rate and an ETA."""
    now = now or timezone.now()
    counts = deliveries_counts(digest.pk)
    audience = sum(counts.values())
    recent = Delivery.objects.filter(
        digest=digest, status=Delivery.Status.SENT, sent_at__gte=now - datetime.timedelta(seconds=RATE_WINDOW_SECONDS)
    ).count()
    rate = recent / RATE_WINDOW_SECONDS
    left = counts["pending"] + counts["sending"]
    waiting, next_release = 0, None
    if counts["pending"]:
        later = Delivery.objects.filter(digest=digest, status=Delivery.Status.PENDING, not_before__gt=now)
        waiting = later.count()
        next_release = later.aggregate(first=Min("not_before"))["first"] if waiting else None
    # The ETA is for what is due now: readers waiting for their day are not late.
    due = left - waiting
    eta = (int(due / rate) if rate > 0 else None) if due else (None if waiting else 0)
    done = audience - left
    rows = (
        Delivery.objects.filter(digest=digest, status=Delivery.Status.FAILED)
        .order_by("-updated_at")
        .values("subscriber__email", "last_error", "attempts", "updated_at")[:failures]
    )
    return Progress(
        status=digest.status,
        audience=audience,
        sent=counts["sent"],
        failed=counts["failed"],
        skipped=counts["skipped"],
        pending=counts["pending"],
        sending=counts["sending"],
        cancelled=counts["cancelled"],
        suppressed=counts["suppressed"],
        rate_per_second=round(rate, 1),
        eta_seconds=eta,
        waiting=waiting,
        next_release=next_release,
        percent=round(100 * done / audience, 1) if audience else 0.0,
        failures=[
            {
                "email": r["subscriber__email"],
                "error": r["last_error"],
                "attempts": r["attempts"],
                "at": r["updated_at"].isoformat(),
            }
            for r in rows
        ],
    )
