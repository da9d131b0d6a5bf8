"""Public web archive of sent digests (the "view in browser" pages) and which digests are public."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation

from digests.links import archive_url, site_url
from digests.models import Digest
from digests.rendering.render import content_context, digest_heading, variant_preheader
from digests.rendering.sections import digest_content

ARCHIVE_PAGE_SIZE = 20
# A digest is public from the moment its send starts (sending, paused, sent):
# readers who already have the email follow its "view in browser" link. Drafts,
# scheduled and cancelled digests are not public.
PUBLIC_STATUSES = (Digest.Status.SENDING, Digest.Status.PAUSED, Digest.Status.SENT)
# Open Graph wants a territory; Django's language codes have none.
OG_LOCALES = {"zh-hans": "zh_CN", "zh-hant": "zh_TW", "en": "en_US"}


def archive_digests() -> QuerySet[Digest]:
    """Digests that have gone out, dailies and weekly editions, newest issue first (a weekly before
    the daily of its last day)."""
    return Digest.objects.filter(status__in=PUBLIC_STATUSES).order_by("-issue_date", "-edition")


def archive_digest_get(issue_date: datetime.date, *, edition: str = Digest.Edition.DAILY) -> Digest:
    """The public digest of ``issue_date`` (a weekly: the one ending that day); Http404 for a draft,
    scheduled, cancelled or missing one."""
    digest = archive_digests().filter(issue_date=issue_date, edition=edition).first()
    if digest is None:
        raise Http404("No published digest for this date.")
    return digest


def _feed_url() -> str:
    return site_url(reverse("digests:feed"))


def archive(request: HttpRequest) -> HttpResponse:
    page = Paginator(archive_digests(), ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "digests/archive.html",
        {
            "page": page,
            "canonical_url": site_url(request.path) + (f"?page={page.number}" if page.number > 1 else ""),
            "feed_url": _feed_url(),
            "weekly_feed_url": site_url(reverse("digests:weekly_feed")),
        },
    )


def archive_digest(request: HttpRequest, issue_date: str) -> HttpResponse:
    return _digest_page(request, _day(issue_date), Digest.Edition.DAILY)


def archive_weekly(request: HttpRequest, issue_date: str) -> HttpResponse:
    """The weekly edition whose week ends on ``issue_date``: /archive/weekly/<END_DATE>/."""
    return _digest_page(request, _day(issue_date), Digest.Edition.WEEKLY)


def _day(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise Http404("Not a date (YYYY-MM-DD).") from None


def _digest_page(request: HttpRequest, day: datetime.date, edition: str) -> HttpResponse:
    digest = archive_digest_get(day, edition=edition)
    content = digest_content(digest)
    context = content_context(digest, content.sections)
    context.update(
        title=digest_heading(digest),
        description=variant_preheader(digest, content.sections),
        canonical_url=archive_url(digest.issue_date, weekly=digest.is_weekly),
        feed_url=site_url(reverse("digests:weekly_feed")) if digest.is_weekly else _feed_url(),
        og_locale=OG_LOCALES.get(settings.LANGUAGE_CODE.lower(), translation.to_locale(settings.LANGUAGE_CODE)),
    )
    return render(request, "digests/archive_digest.html", context)
