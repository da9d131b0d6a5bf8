"""Which digests are public: only sent ones (drafts and scheduled digests are not)."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.http import Http404

from digests.models import Digest


def archive_digests() -> QuerySet[Digest]:
    """Sent digests, newest issue first."""
    return Digest.objects.filter(status=Digest.Status.SENT).order_by("-issue_date")


def archive_digest_get(issue_date: datetime.date) -> Digest:
    """The sent digest of ``issue_date``; Http404 for any other (unsent or missing) digest."""
    digest = archive_digests().filter(issue_date=issue_date).first()
    if digest is None:
        raise Http404("No published digest for this date.")
    return digest
