"""Which digests are public: those that have gone out to readers.

A digest is public from the moment its send starts (sending, paused, sent):
readers who already have the email follow its "view in browser" link. Drafts,
scheduled and cancelled digests are not public.
"""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.http import Http404

from digests.models import Digest

PUBLIC_STATUSES = (Digest.Status.SENDING, Digest.Status.PAUSED, Digest.Status.SENT)


def archive_digests() -> QuerySet[Digest]:
    """Digests that have gone out, newest issue first."""
    return Digest.objects.filter(status__in=PUBLIC_STATUSES).order_by("-issue_date")


def archive_digest_get(issue_date: datetime.date) -> Digest:
    """The public digest of ``issue_date``; Http404 for a draft, scheduled, cancelled or missing one."""
    digest = archive_digests().filter(issue_date=issue_date).first()
    if digest is None:
        raise Http404("No published digest for this date.")
    return digest
