"""The weekly edition: a draft issue assembled from the items of the week's sent dailies.

Built from stored items, never from text. For the seven days ending on the end
date, every daily whose send has started (sending or sent) gives its items, in
day order and each day in its own reading order. A story two dailies covered
(the same link, or the same title) counts once, as its earliest copy, and is a
lead or a highlight if any copy was. Then, per category:

1. the week's lead stories (each daily's lead: its chosen lead story, else its
   first item, as the email shows it);
2. the items editors marked "highlight of the week";
3. the category's first items (by day, then position) until the section holds
   ``WEEKLY_ITEMS_PER_CATEGORY`` items. Leads and highlights are always in, so
   a section can hold more; the limit caps only the fill-up.

Sections come in the order of the latest daily's sections, then any other
category in its global order. The items are copied (a new row each), so editors
reorder, cut, rewrite and add in the weekly without touching the dailies.
"""

from __future__ import annotations

import datetime
import logging
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from digests.content.ordering import items_by_section, section_rank
from digests.models import Category, Digest, Item
from digests.models.readers import WEEKDAYS
from digests.webhooks.events import digest_data, event_emit

log = logging.getLogger(__name__)

WEEK_DAYS = 7
# A weekly is built from dailies that readers already have: their send started.
SOURCE_STATUSES = (Digest.Status.SENDING, Digest.Status.SENT)
_TRACKING_PARAMS = re.compile(r"^(utm_|spm$|from$|share_)", re.IGNORECASE)


class WeeklyBuildError(ValueError):
    """The weekly edition cannot be built: no dailies in the week, or one exists already."""


@dataclass
class _Story:
    """One story of the week: its earliest copy, and whether any copy led a daily or was highlighted."""

    item: Item
    lead: bool = False
    highlight: bool = False


def week_of(end_date: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first and last day of the week that ends on ``end_date``."""
    return end_date - datetime.timedelta(days=WEEK_DAYS - 1), end_date


def weekly_sources(end_date: datetime.date) -> list[Digest]:
    """The dailies of the week ending on ``end_date`` whose send has started, oldest first."""
    start, end = week_of(end_date)
    return list(
        Digest.objects.filter(
            edition=Digest.Edition.DAILY, status__in=SOURCE_STATUSES, issue_date__gte=start, issue_date__lte=end
        ).order_by("issue_date")
    )


def url_key(url: str) -> str:
    """A source link as compared for duplicates: no scheme, www., fragment, trailing slash or tracking parameters."""
    url = url.strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.lower()
    host = parts.netloc.lower().removeprefix("www.")
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)))
    return urlunsplit(("", host, parts.path.rstrip("/"), query, ""))


def title_key(title: str) -> str:
    """A title as compared for duplicates: full-width folded to half-width, case, spaces and punctuation ignored."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return "".join(c for c in text if not (c.isspace() or unicodedata.category(c)[0] in "PSZ"))


def _daily_items(digest: Digest) -> tuple[list[Item], Item | None]:
    """A daily's items in reading order (its sections, then positions) and its lead as the email shows it."""
    items = list(digest.items.select_related("category").order_by("position", "id"))
    ordered = [item for _category, bucket in items_by_section(items, digest.section_order) for item in bucket]
    lead = next((item for item in ordered if item.pk == digest.lead_item_id), None)
    return ordered, lead or (ordered[0] if ordered else None)


def _stories(sources: list[Digest]) -> list[_Story]:
    """Every distinct story of the week, earliest copy first."""
    stories: list[_Story] = []
    by_key: dict[str, _Story] = {}
    for digest in sources:
        items, lead = _daily_items(digest)
        for item in items:
            keys = {f"u:{key}" for key in [url_key(item.source_url)] if key} | {
                f"t:{key}" for key in [title_key(item.title)] if key
            }
            story = next((by_key[key] for key in sorted(keys) if key in by_key), None)
            if story is None:
                story = _Story(item=item)
                stories.append(story)
            story.lead |= lead is not None and item.pk == lead.pk
            story.highlight |= item.highlight
            for key in keys:
                by_key.setdefault(key, story)
    return stories


def weekly_selection(sources: list[Digest], *, per_category: int | None = None) -> list[tuple[Category, list[_Story], int]]:
    """(category, its stories in the weekly's order, how many are leads) for each category with a story, in section order."""
    limit = settings.WEEKLY_ITEMS_PER_CATEGORY if per_category is None else per_category
    by_category: dict[int, list[_Story]] = {}
    for story in _stories(sources):
        by_category.setdefault(story.item.category_id, []).append(story)
    order_key = section_rank(sources[-1].section_order if sources else [])
    selection = []
    for stories in by_category.values():
        leads = [s for s in stories if s.lead]
        highlights = [s for s in stories if s.highlight and not s.lead]
        rest = [s for s in stories if not (s.lead or s.highlight)]
        chosen = leads + highlights + rest[: max(0, limit - len(leads) - len(highlights))]
        selection.append((stories[0].item.category, chosen, len(leads)))
    return sorted(selection, key=lambda entry: order_key(entry[0]))


def weekly_title(sources: list[Digest]) -> str:
    """The latest daily's title (the publication's name as issues carry it) with "周刊" after it."""
    stem = sources[-1].title.strip() if sources else settings.SITE_NAME
    with translation.override(settings.LANGUAGE_CODE):
        weekly = pgettext("weekly edition title", "Weekly")
    return f"{stem} {weekly}"


@transaction.atomic
def weekly_build(end_date: datetime.date, *, replace: bool = False, author=None) -> Digest:
    """Build the draft weekly edition of the seven days ending on ``end_date``, all or nothing.

    Refuses (WeeklyBuildError) when no daily of the week was sent, or when a
    weekly for ``end_date`` exists, unless ``replace``: then a draft's (or a
    cancelled one's) items, lead and section order are built again, and the
    editor's 导语, subject and preheader are kept. A scheduled or sent weekly
    is never replaced. The same dailies always give the same draft.
    """
    start, end = week_of(end_date)
    existing = Digest.objects.select_for_update().filter(issue_date=end, edition=Digest.Edition.WEEKLY).first()
    if existing and not replace:
        raise WeeklyBuildError(
            _("A weekly edition for %(start)s – %(end)s already exists (id %(id)s); build with replace to rebuild the draft.")
            % {"start": start.isoformat(), "end": end.isoformat(), "id": existing.pk}
        )
    if existing and not existing.is_editable:
        raise WeeklyBuildError(
            _("The weekly edition for %(start)s – %(end)s is %(status)s and cannot be replaced.")
            % {"start": start.isoformat(), "end": end.isoformat(), "status": existing.get_status_display()}
        )
    sources = weekly_sources(end)
    if not sources:
        raise WeeklyBuildError(
            _("No daily digest was sent between %(start)s and %(end)s; there is nothing to build a weekly edition from.")
            % {"start": start.isoformat(), "end": end.isoformat()}
        )
    selection = weekly_selection(sources)

    digest = existing or Digest(edition=Digest.Edition.WEEKLY, issue_date=end, author=author)
    digest.period_start = start
    digest.title = weekly_title(sources)
    digest.lead_item = None
    digest.section_order = [category.pk for category, _stories, _leads in selection]
    if author is not None and digest.author_id is None:
        digest.author = author
    try:
        with transaction.atomic():
            digest.save()
    except IntegrityError:
        # Another build (the beat job, an editor) created it between our read and our write.
        raise WeeklyBuildError(
            _("A weekly edition for %(start)s – %(end)s was just created by someone else.")
            % {"start": start.isoformat(), "end": end.isoformat()}
        ) from None
    if existing:
        digest.items.all().delete()
    copies = [
        story.item.copy_into(digest, position=position)
        for _category, stories, _leads in selection
        for position, story in enumerate(stories)
    ]
    Item.objects.bulk_create(copies)
    # The first section's first lead leads the weekly, as the dailies' leads open each section.
    digest.lead_item = next((copy for copy, story in zip(copies, _flat(selection), strict=True) if story.lead), None)
    digest.save(update_fields=["lead_item", "updated_at"])
    if not existing:
        event_emit("digest.created", digest_data(digest, items=len(copies)))
    return digest


def _flat(selection) -> list[_Story]:
    return [story for _category, stories, _leads in selection for story in stories]


def weekly_section_counts(digest: Digest) -> list[tuple[str, int]]:
    """(category name, item count) of a weekly in its section order, for what the build reports."""
    items = digest.items.select_related("category").order_by("position", "id")
    return [(category.name, len(bucket)) for category, bucket in items_by_section(items, digest.section_order)]


def weekly_build_due(now: datetime.datetime | None = None) -> Digest | None:
    """The beat job: on WEEKLY_BUILD_DAY from WEEKLY_BUILD_TIME (site time), build that week's draft once.

    Does nothing on other days, before the time, when the weekly already exists
    (whatever its status: it is never replaced) or when no daily of the week was
    sent. Returns the digest it built, or None.
    """
    if settings.WEEKLY_BUILD_DAY == "off":
        return None
    local = timezone.localtime(now or timezone.now())
    hours, minutes = (int(part) for part in settings.WEEKLY_BUILD_TIME.split(":"))
    if WEEKDAYS[local.weekday()] != settings.WEEKLY_BUILD_DAY or local.time() < datetime.time(hours, minutes):
        return None
    end = local.date()
    if Digest.objects.filter(issue_date=end, edition=Digest.Edition.WEEKLY).exists() or not weekly_sources(end):
        return None
    try:
        digest = weekly_build(end)
    except WeeklyBuildError as exc:
        log.info("weekly edition not built: %s", exc)
        return None
    log.info("built the draft weekly edition %s (id %s)", digest, digest.pk)
    return digest
