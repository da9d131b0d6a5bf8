"""The signup form's one service: whatever the address's history, the answer looks the same.

``subscriber_signup`` returns what it did (for logs and tests); the view shows
the same "check your inbox" page for every outcome so the form never reveals
who is on the list.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone as django_timezone

from digests.models import Category, FrequencyChange, Subscriber
from digests.readers.confirmation import confirmation_request, confirmation_request_new
from digests.readers.frequency import frequency_normalise, subscriber_frequency_set, weekday_normalise
from digests.readers.normalise import email_key, language_normalise
from digests.readers.ratelimit import rate_limit_allows
from digests.readers.status import subscriber_transition

S = Subscriber.Status


class SignupOutcome(enum.StrEnum):
    CREATED = "created"  # new pending reader, confirmation queued
    RESENT = "resent"  # still pending, another confirmation queued
    THROTTLED = "throttled"  # still pending, a confirmation went out less than an hour ago
    REOPENED = "reopened"  # was unsubscribed/bounced/complained, now pending with a fresh confirmation
    ALREADY_ACTIVE = "already_active"  # nothing to do
    RATE_LIMITED = "rate_limited"  # too many attempts for this address: nothing done


def subscriber_by_address(address: str) -> Subscriber | None:
    """The subscriber with this normalised address, compared case-insensitively."""
    return Subscriber.objects.alias(email_ci=Lower("email")).filter(email_ci=email_key(address)).first()


def language_code(value: str | None) -> str:
    """The reader language ``value`` names, else the site's, else Simplified Chinese."""
    return language_normalise(value) or language_normalise(settings.LANGUAGE_CODE) or Subscriber.Language.ZH_HANS


def subscriber_signup(
    *,
    email: str,
    name: str = "",
    categories: Iterable[Category],
    language: str,
    source: str = Subscriber.Source.SIGNUP,
    timezone: str = "",
    frequency: str | None = None,
    weekly_day: str | None = None,
) -> SignupOutcome:
    """Sign up the normalised ``email``: create or reopen it as pending and queue a confirmation.

    Never activates anyone and never touches an active reader. Attempts per
    address are limited by SIGNUP_RATE_PER_ADDRESS; over the limit nothing
    happens at all. ``frequency`` and ``weekly_day`` left out (None) mean the
    defaults for a new reader and no change for a returning one.
    """
    if not rate_limit_allows(
        "signup-address", email_key(email), settings.SIGNUP_RATE_PER_ADDRESS, setting="SIGNUP_RATE_PER_ADDRESS"
    ):
        return SignupOutcome.RATE_LIMITED
    choice = {
        "email": email,
        "name": name,
        "categories": list(categories),
        "language": language,
        "source": source,
        "tz": timezone,
        "frequency": frequency_normalise(frequency) if frequency else None,
        "weekly_day": weekday_normalise(weekly_day) if weekly_day else None,
    }
    try:
        with transaction.atomic():
            return _signup(**choice)
    except IntegrityError:
        # A simultaneous signup created the row first; treat ours as a repeat.
        with transaction.atomic():
            return _signup(**choice)


def _signup(*, email, name, categories, language, source, tz, frequency, weekly_day) -> SignupOutcome:
    subscriber = subscriber_by_address(email)
    if subscriber is None:
        # A new reader's first choice is not a move: no FrequencyChange. Created already stamped, and its
        # categories added rather than set: a row this transaction just made has no choices to compare and
        # no confirmation to throttle.
        how_often = {"frequency": frequency} if frequency else {}
        if weekly_day:
            how_often["weekly_day"] = weekly_day
        subscriber = Subscriber.objects.create(
            email=email,
            name=name,
            language=language_code(language),
            source=source,
            status=S.PENDING,
            timezone=tz,
            confirmation_sent_at=django_timezone.now(),
            **how_often,
        )
        subscriber.categories.add(*categories)
        confirmation_request_new(subscriber)
        return SignupOutcome.CREATED
    if subscriber.status == S.ACTIVE:
        return SignupOutcome.ALREADY_ACTIVE
    reopened = subscriber.status != S.PENDING
    if reopened:
        subscriber_transition(subscriber, to=S.PENDING, reason="signed up again")
    # Until confirmed, the latest choice counts; an active reader's choices are
    # changed only from their preference centre.
    if name:
        subscriber.name = name
    subscriber.language = language_code(language)
    if tz:
        subscriber.timezone = tz
    subscriber.save(update_fields=["name", "language", "timezone", "updated_at"])
    subscriber.categories.set(categories)
    if frequency:
        subscriber_frequency_set(subscriber, frequency=frequency, weekly_day=weekly_day, via=FrequencyChange.Via.SIGNUP)
    sent = confirmation_request(subscriber)
    if reopened:
        return SignupOutcome.REOPENED
    return SignupOutcome.RESENT if sent else SignupOutcome.THROTTLED
