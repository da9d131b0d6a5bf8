"""Double opt-in: ask for a confirmation (at most once an hour), send it, and confirm.

The confirmation email is rendered in the reader's language from
``templates/emails/confirm-subject.txt``, ``confirm.txt`` and ``confirm.html``.
It is owed through the transactional outbox (``digests.readers.outbox``) in
the signup's transaction and sent by a Celery task on the transactional queue
once that transaction has committed, or by housekeeping after a broker outage.
"""

from __future__ import annotations

import datetime
import functools

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.html import escape

from digests.links import reader_url
from digests.mail import mail_connection, transactional_render
from digests.mail.prebuilt import PrebuiltMessage
from digests.models import Consent, Subscriber, TransactionalEmail
from digests.readers.outbox import transactional_email_owe
from digests.readers.privacy import address_unsuppress, ip_hash
from digests.readers.status import subscriber_transition

S = Subscriber.Status
RESEND_AFTER = datetime.timedelta(hours=1)


def confirmation_max_age() -> int:
    """Seconds a confirmation link stays valid (CONFIRMATION_MAX_AGE_DAYS)."""
    return settings.CONFIRMATION_MAX_AGE_DAYS * 86400


def confirmation_request(subscriber: Subscriber) -> bool:
    """Owe a confirmation email to a pending ``subscriber`` unless one was asked for in the last hour.

    Returns whether an email is owed. The stamp and the outbox row are written
    in the caller's transaction; the task is queued only after it commits.
    """
    if subscriber.status != S.PENDING:
        return False
    now = timezone.now()
    recent = now - RESEND_AFTER
    # A conditional UPDATE so two simultaneous signups cannot both send.
    stamped = (
        Subscriber.objects.filter(pk=subscriber.pk, status=S.PENDING)
        .exclude(confirmation_sent_at__gt=recent)
        .update(confirmation_sent_at=now)
    )
    if not stamped:
        return False
    subscriber.confirmation_sent_at = now
    transactional_email_owe(subscriber=subscriber, kind=TransactionalEmail.Kind.CONFIRMATION)
    return True


def confirmation_request_new(subscriber: Subscriber) -> None:
    """Owe a confirmation email to a reader the caller's transaction has just created, pending and stamped.

    Nobody else can have asked for one yet (the row is not visible outside
    this transaction, and a simultaneous signup for the address fails on its
    unique email), so this skips ``confirmation_request``'s conditional stamp.
    """
    transactional_email_owe(subscriber=subscriber, kind=TransactionalEmail.Kind.CONFIRMATION)


# Stand-ins for what differs from reader to reader, put into the templates in their place: plain
# letters, so that neither escaping nor a translation's wording changes them.
_NAME_SLOT = "zqConfirmNameSlotqz"
_URL_SLOT = "zqConfirmUrlSlotqz"


@functools.lru_cache(maxsize=64)
def _confirmation_prebuilt(language: str, named: bool, site: tuple) -> PrebuiltMessage:
    # ``site`` is every setting the templates and the headers show, so a changed setting builds afresh.
    site_name, site_url, max_age_days, publisher_address, _from, _reply_to = site
    context = {
        "site_name": site_name,
        "site_url": site_url,
        "name": _NAME_SLOT if named else "",
        "confirm_url": _URL_SLOT,
        "max_age_days": max_age_days,
        "publisher_address": publisher_address,
    }
    subject, text, html = transactional_render("confirm", language=language, context=context)
    return PrebuiltMessage(subject=subject, text=text, html=html, fields={"name": _NAME_SLOT, "url": _URL_SLOT})


@receiver(setting_changed)
def _forget_confirmation_parts(**kwargs) -> None:
    # Templates, translations or languages may have changed with it (tests change settings).
    _confirmation_prebuilt.cache_clear()


def confirmation_message(subscriber: Subscriber) -> EmailMultiAlternatives:
    """The confirmation email for ``subscriber``, in their language, with a fresh signed link.

    The templates are rendered, and the MIME message built and serialised, once per language
    (and with or without a name); each reader's name, link, address, Date and Message-ID are
    filled into those bytes (``digests.mail.prebuilt``): the same message as building it for
    each reader, at a fraction of the cost for a burst of signups.
    """
    site = (
        settings.SITE_NAME,
        settings.SITE_URL,
        settings.CONFIRMATION_MAX_AGE_DAYS,
        settings.PUBLISHER_ADDRESS,
        settings.DEFAULT_FROM_EMAIL,
        settings.REPLY_TO_EMAIL,
    )
    prebuilt = _confirmation_prebuilt(subscriber.language or settings.LANGUAGE_CODE, bool(subscriber.name), site)
    name, url = subscriber.name, reader_url(subscriber.key, "confirm")
    return prebuilt.message(
        to=subscriber.email,
        # The text part is rendered with autoescaping off; the HTML escapes what it shows, as the template would.
        text_values={"name": name, "url": url},
        html_values={"name": escape(name), "url": escape(url)},
    )


def confirmation_send(subscriber_id: int) -> bool:
    """Send the confirmation email at once, outside the outbox, if the reader still waits for one.

    Only for tasks queued by a version before the outbox; False when there is nothing to send.
    """
    subscriber = Subscriber.objects.filter(pk=subscriber_id, status=S.PENDING).first()
    if subscriber is None:
        return False
    message = confirmation_message(subscriber)
    message.connection = mail_connection("transactional")
    message.send()
    return True


def subscriber_confirm(subscriber: Subscriber, *, ip: str | None, form: str, wording: str) -> bool:
    """Activate a pending ``subscriber`` and record their consent; False if nothing changed.

    A confirmed opt-in also lifts any suppression of the address, since the
    reader has just proven they own it and want the mail.
    """
    if subscriber.status != S.PENDING:
        return False
    with transaction.atomic():
        changed = subscriber_transition(subscriber, to=S.ACTIVE)
        if changed:
            Consent.objects.create(subscriber=subscriber, form=form, ip_hash=ip_hash(ip), wording=wording)
            address_unsuppress(subscriber.email)
            # A new subscription: the reader is owed a welcome, sent through the outbox.
            transactional_email_owe(subscriber=subscriber, kind=TransactionalEmail.Kind.WELCOME)
    return changed
