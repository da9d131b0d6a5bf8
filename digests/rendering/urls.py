"""Absolute links that emails and feeds carry (they are read outside any request)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from digests.models import Digest


def site_url(path: str) -> str:
    """``path`` (starting with /) made absolute on SITE_URL."""
    return settings.SITE_URL.rstrip("/") + path


def archive_url(digest: Digest) -> str:
    """The public web page of ``digest``: SITE_URL + /archive/YYYY-MM-DD/ (the "view in browser" link)."""
    return site_url(reverse("digests:archive_digest", kwargs={"issue_date": digest.issue_date.isoformat()}))
