"""How far a send has got: counts, current rate, ETA and failures, for the admin and the CLI."""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field

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

    def as_dict(self) -> dict:
        return asdict(self)


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
    eta = int(left / rate) if rate > 0 and left else (0 if not left else None)
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
