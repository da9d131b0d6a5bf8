"""The transactional outbox: owe an email in the caller's transaction, claim it, stamp what happened.

Every transactional email (today the confirmation request) is a
``TransactionalEmail`` row written in the same transaction as the change that
owes it, and handed to Celery only after that transaction commits. A broker
outage then loses nothing: the row stays ``owed`` and housekeeping hands it
over again. A row is stamped ``sent`` only once the mail server accepted the
message. What each kind of email says is decided in ``transactional``.
"""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils import timezone

from digests import queue
from digests.models import Subscriber, TransactionalEmail

T = TransactionalEmail.Status
# Housekeeping leaves a fresh row alone this long: its own after-commit hand-over is on the way.
GRACE = datetime.timedelta(seconds=60)
# A worker that claimed a row and died lets it go after this; the message is then sent again.
CLAIM_LEASE = datetime.timedelta(minutes=5)
RETRY_BASE_SECONDS = 60
RETRY_MAX_SECONDS = 3600


def transactional_email_owe(*, subscriber: Subscriber, kind: str) -> TransactionalEmail:
    """Record that ``subscriber`` is owed an email of ``kind`` (in the caller's transaction) and hand it over after commit."""
    owed = TransactionalEmail.objects.create(
        subscriber=subscriber, kind=kind, status=T.OWED, next_attempt_at=timezone.now() + GRACE
    )
    queue.enqueue_or_leave_owed(queue.SEND_TRANSACTIONAL, owed.pk)
    return owed


def transactional_email_claim(pk: int, *, now: datetime.datetime | None = None) -> TransactionalEmail | None:
    """Claim an owed row for one send attempt; None when it is sent, dropped or another worker holds it."""
    now = now or timezone.now()
    claimed = (
        TransactionalEmail.objects.filter(pk=pk, status=T.OWED)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM_LEASE)
    )
    if not claimed:
        return None
    return TransactionalEmail.objects.select_related("subscriber").get(pk=pk)


def transactional_email_record(owed: TransactionalEmail, *, status: str, error: str = "") -> None:
    """Stamp the outcome of one attempt: sent, dropped, failed, or (``owed``) try again later with backoff."""
    now = timezone.now()
    attempts = owed.attempts + 1
    changes = {"status": status, "claimed_until": None, "attempts": attempts, "last_error": error[:2000]}
    if status == T.SENT:
        changes["sent_at"] = now
    if status == T.OWED:
        delay = min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), RETRY_MAX_SECONDS)
        changes["next_attempt_at"] = now + datetime.timedelta(seconds=delay)
    TransactionalEmail.objects.filter(pk=owed.pk).update(**changes)
    for name, value in changes.items():
        setattr(owed, name, value)


def transactional_emails_due(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of owed rows whose grace or backoff has passed and that no live worker holds, oldest first."""
    now = now or timezone.now()
    return list(
        TransactionalEmail.objects.filter(status=T.OWED, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def transactional_emails_owed_count(*, older_than: datetime.timedelta = GRACE) -> int:
    """How many emails have been owed for longer than ``older_than`` (for /healthz and /metrics)."""
    return TransactionalEmail.objects.filter(status=T.OWED, created_at__lt=timezone.now() - older_than).count()
