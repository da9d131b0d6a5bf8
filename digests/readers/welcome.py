"""The welcome email a reader gets right after confirming, once per subscription.

It says what they will get and when (their categories, their local send
time), how to change that, and shows the latest sent issue rendered for their
categories, or links to the archive when there is none. It goes through the
transactional connection, like the confirmation; ``welcome_deliver`` is the
one place it is handed over, so it can move onto an outbox unchanged.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils import timezone, translation

from digests.links import reader_links, site_url
from digests.mail import transactional_message
from digests.models import Digest, Subscriber
from digests.rendering.premail import html_inline
from digests.rendering.render import brand_context, variant_context

S = Subscriber.Status


def welcome_latest_digest(frequency: str = Subscriber.Frequency.DAILY) -> Digest | None:
    """The newest issue of the edition the reader will mostly get (the weekly for weekly-only readers,
    the daily otherwise), or the newest of either when that edition has none yet."""
    sent = Digest.objects.filter(status=Digest.Status.SENT).order_by("-issue_date", "edition")
    weekly = frequency == Subscriber.Frequency.WEEKLY
    edition = Digest.Edition.WEEKLY if weekly else Digest.Edition.DAILY
    return sent.filter(edition=edition).first() or sent.first()


def welcome_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    """The welcome email for ``subscriber``, in their language, with their own links."""
    language = subscriber.language or settings.LANGUAGE_CODE
    links = reader_links(subscriber.key)
    categories = list(subscriber.categories.order_by("position", "id"))
    with translation.override(language):
        latest = welcome_latest_digest(subscriber.frequency)
        context = None
        if latest is not None and categories:
            context = variant_context(latest, frozenset(c.pk for c in categories), links)
        context = dict(context or {})
        context.update(
            welcome=True,
            links=links,
            name=subscriber.name,
            site_name=settings.SITE_NAME,
            categories=categories,
            send_time=settings.DIGEST_SEND_TIME,
            frequency=subscriber.frequency,
            weekly_day=subscriber.get_weekly_day_display(),
            time_zone=subscriber.tz_name,
            local_time=settings.DIGEST_LOCAL_TIME_DELIVERY,
            latest=latest if "sections" in context else None,
            archive_index_url=site_url(reverse("digests:archive")),
            publisher_address=settings.PUBLISHER_ADDRESS,
            postal_address=settings.PUBLISHER_POSTAL_ADDRESS,
        )
        context.setdefault("brand", brand_context())
    return transactional_message("welcome", to=subscriber.email, language=language, context=context, html_filter=html_inline)


def welcome_owed_message(subscriber: Subscriber) -> EmailMultiAlternatives | None:
    """The welcome the outbox sends, or None when the reader left or was welcomed since confirming."""
    if subscriber.status != S.ACTIVE or subscriber.confirmed_at is None:
        return None
    if subscriber.welcome_sent_at and subscriber.welcome_sent_at >= subscriber.confirmed_at:
        return None
    return welcome_message(subscriber)


def welcome_sent(subscriber: Subscriber) -> None:
    """Stamp the welcome of this subscription as sent (once the mail server accepted it)."""
    Subscriber.objects.filter(pk=subscriber.pk).update(welcome_sent_at=timezone.now())
