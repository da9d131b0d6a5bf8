"""A reader's data export, sent to their inbox: asked for on the preference page, downloaded within a day.

The export (email, consent records, deliveries) is never served from a
preference link, which lives for weeks in old emails: the reader asks for it,
and a download link valid for ``DATA_LINK_MAX_AGE`` seconds goes to the
address on file, so only its owner can open it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from digests.links import reader_url
from digests.mail import transactional_message
from digests.models import Subscriber, TransactionalEmail
from digests.readers.outbox import transactional_email_owe
from digests.readers.preferences import subscriber_preferences_editable
from digests.readers.ratelimit import rate_limit_allows

DATA_LINK_MAX_AGE = 24 * 3600  # the emailed download link works for one day
# A reader (or someone holding their preference link) cannot flood the inbox with exports.
DATA_EXPORT_RATE = "3/d"


def data_export_request(subscriber: Subscriber) -> bool:
    """Email ``subscriber`` a one-day download link for their data; False when not sent (rate limit, not on the list)."""
    if not subscriber_preferences_editable(subscriber):
        return False
    if not rate_limit_allows("data-export", subscriber.key.hex, DATA_EXPORT_RATE):
        return False
    transactional_email_owe(subscriber=subscriber, kind=TransactionalEmail.Kind.DATA_EXPORT)
    return True


def data_export_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    """The email with ``subscriber``'s download link, in their language."""
    context = {
        "site_name": settings.SITE_NAME,
        "name": subscriber.name,
        "download_url": reader_url(subscriber.key, "data"),
        "max_age_hours": DATA_LINK_MAX_AGE // 3600,
        "publisher_address": settings.PUBLISHER_ADDRESS,
    }
    return transactional_message(
        "data-export", to=subscriber.email, language=subscriber.language or settings.LANGUAGE_CODE, context=context
    )
