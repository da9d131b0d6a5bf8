"""Atom feeds of sent digests: the dailies, one per category (only that category's items, from the
dailies), and the weekly editions (/feed/weekly/). A weekly repeats the week's stories, so it has its
own feed and never appears in the daily ones."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.utils.translation import gettext as _

from digests.links import archive_url, site_url
from digests.models import Category, Digest
from digests.rendering.render import content_context, digest_heading, variant_preheader
from digests.rendering.sections import digest_content
from digests.views.archive import archive_digests

FEED_SIZE = 30


class ContentAtomFeed(Atom1Feed):
    """Atom with each digest's full content in <content type="html">."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        if item.get("content"):
            handler.addQuickElement("content", item["content"], {"type": "html"})


def _digest_time(digest: Digest) -> datetime.datetime:
    return (
        digest.send_finished_at
        or digest.send_started_at
        or timezone.make_aware(datetime.datetime.combine(digest.issue_date, datetime.time()))
    )


def _category_of(digest: Digest) -> Category | None:
    # Set by CategoryFeed.items on each digest it lists; the Feed instance itself
    # is shared between requests, so nothing per-request may live on it.
    return getattr(digest, "_feed_category", None)


def _sections(digest: Digest):
    category = _category_of(digest)
    return digest_content(digest).sections_for(None if category is None else frozenset({category.pk}))


class DigestFeed(Feed):
    feed_type = ContentAtomFeed

    def title(self) -> str:
        return settings.SITE_NAME

    def link(self) -> str:
        return site_url(reverse("digests:archive"))

    def feed_url(self) -> str:
        return site_url(reverse("digests:feed"))

    def subtitle(self) -> str:
        return _("Every sent issue of %(site)s.") % {"site": settings.SITE_NAME}

    def items(self) -> list[Digest]:
        return list(archive_digests().filter(edition=Digest.Edition.DAILY)[:FEED_SIZE])

    def item_title(self, item: Digest) -> str:
        category = _category_of(item)
        return digest_heading(item) + (f" · {category.name}" if category else "")

    def item_link(self, item: Digest) -> str:
        category = _category_of(item)
        return archive_url(item.issue_date, weekly=item.is_weekly) + (f"#s-{category.slug}" if category else "")

    def item_guid(self, item: Digest) -> str:
        return self.item_link(item)

    def item_pubdate(self, item: Digest) -> datetime.datetime:
        return _digest_time(item)

    def item_updateddate(self, item: Digest) -> datetime.datetime:
        return max(item.updated_at, _digest_time(item))

    def item_description(self, item: Digest) -> str:
        # Atom's <summary type="html"> is rendered as HTML by feed readers: the
        # preheader is plain editor text, so it goes in escaped, like everything
        # in <content> (the archive's auto-escaped template).
        return escape(variant_preheader(item, _sections(item)))

    def item_extra_kwargs(self, item: Digest) -> dict:
        return {"content": render_to_string("emails/digest_content.html", content_context(item, _sections(item)))}


class CategoryFeed(DigestFeed):
    def get_object(self, request, slug: str) -> Category:
        return get_object_or_404(Category, slug=slug)

    def title(self, obj: Category) -> str:
        return f"{settings.SITE_NAME} · {obj.name}"

    def feed_url(self, obj: Category) -> str:
        return site_url(reverse("digests:category_feed", kwargs={"slug": obj.slug}))

    def subtitle(self, obj: Category) -> str:
        return _("%(category)s from every sent issue of %(site)s.") % {"category": obj.name, "site": settings.SITE_NAME}

    def items(self, obj: Category) -> list[Digest]:
        digests = list(archive_digests().filter(edition=Digest.Edition.DAILY, items__category=obj).distinct()[:FEED_SIZE])
        for digest in digests:
            digest._feed_category = obj
        return digests


class WeeklyFeed(DigestFeed):
    """/feed/weekly/: the weekly editions only."""

    def title(self) -> str:
        return f"{settings.SITE_NAME} · " + _("Weekly edition")

    def link(self) -> str:
        return site_url(reverse("digests:archive"))

    def feed_url(self) -> str:
        return site_url(reverse("digests:weekly_feed"))

    def subtitle(self) -> str:
        return _("Every sent weekly edition of %(site)s.") % {"site": settings.SITE_NAME}

    def items(self) -> list[Digest]:
        return list(archive_digests().filter(edition=Digest.Edition.WEEKLY)[:FEED_SIZE])
