"""The signup form's one service: whatever the address's history, the answer looks the same.

``subscriber_signup`` returns what it did (for logs and tests); the view shows
the same "check your inbox" page for every outcome so the form never reveals
who is on the list.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone as django_timezone

from digests.models import Category, FrequencyChange, Subscriber, TransactionalEmail
from digests.readers.confirmation import confirmation_request, confirmation_request_new
from digests.readers.frequency import frequency_normalise, subscriber_frequency_set, weekday_normalise
from digests.readers.insert_parts import insert_parts
from digests.readers.normalise import email_key, language_normalise
from digests.readers.outbox import transactional_email_row, transactional_emails_hand_over
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
        # The one-statement insert is PostgreSQL's (data-modifying CTEs); elsewhere (SQLite on a laptop)
        # a new address takes the ORM path below, which writes the same rows.
        if connection.vendor == "postgresql" and _signup_new(**choice):
            return SignupOutcome.CREATED
        with transaction.atomic():
            return _signup(**choice)
    except IntegrityError:
        # A simultaneous signup created the row first; treat ours as a repeat.
        with transaction.atomic():
            return _signup(**choice)


def _signup_new(*, email, name, categories, language, source, tz, frequency, weekly_day) -> bool:
    """Write a new reader, pending and stamped, with its categories and the confirmation it is owed, in
    one statement; False, with nothing written, when the address is taken (in any case).

    The same rows ``_signup`` writes for a new address (its first branch), in one round trip and
    one commit instead of seven statements: most signups are new addresses. A returning one costs
    this statement more, then takes ``_signup``'s path.
    """
    reader = _new_reader(
        email=email, name=name, language=language, source=source, tz=tz, frequency=frequency, weekly_day=weekly_day
    )
    owed = transactional_email_row(subscriber=reader, kind=TransactionalEmail.Kind.CONFIRMATION)
    reader_columns, reader_values, reader_params = insert_parts(reader)
    owed_columns, owed_values, owed_params = insert_parts(owed, leave_out=("subscriber",))
    through = Subscriber.categories.through
    reader_field, category_field = through._meta.get_field("subscriber"), through._meta.get_field("category")
    quote = connection.ops.quote_name
    # ON CONFLICT without a target: the one unique index a new row can hit is the address's (lower(email)).
    sql = (
        f"WITH reader AS (INSERT INTO {quote(Subscriber._meta.db_table)} ({reader_columns}) VALUES ({reader_values}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(Subscriber._meta.pk.column)} AS id), "
        f"chosen AS (INSERT INTO {quote(through._meta.db_table)} ({quote(reader_field.column)}, {quote(category_field.column)}) "
        f"SELECT reader.id, category FROM reader, unnest(CAST(%s AS {category_field.target_field.db_type(connection)}[])) "
        "AS category), "
        f"owed AS (INSERT INTO {quote(TransactionalEmail._meta.db_table)} "
        f"({quote(TransactionalEmail._meta.get_field('subscriber').column)}, {owed_columns}) "
        f"SELECT reader.id, {owed_values} FROM reader) "
        "SELECT id FROM reader"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*reader_params, [category.pk for category in categories], *owed_params])
        created = cursor.fetchone() is not None
    if created:
        transactional_emails_hand_over()
    return created


def _new_reader(*, email, name, language, source, tz, frequency, weekly_day) -> Subscriber:
    """A new reader as signup makes one, not yet saved: pending and already stamped (its confirmation is owed)."""
    how_often = {"frequency": frequency} if frequency else {}
    if weekly_day:
        how_often["weekly_day"] = weekly_day
    return Subscriber(
        email=email,
        name=name,
        language=language_code(language),
        source=source,
        status=S.PENDING,
        timezone=tz,
        confirmation_sent_at=django_timezone.now(),
        **how_often,
    )


def _signup(*, email, name, categories, language, source, tz, frequency, weekly_day) -> SignupOutcome:
    subscriber = subscriber_by_address(email)
    if subscriber is None:
        # A new reader's first choice is not a move: no FrequencyChange. Created already stamped, and its
        # categories added rather than set: a row this transaction just made has no choices to compare and
        # no confirmation to throttle.
        subscriber = _new_reader(
            email=email, name=name, language=language, source=source, tz=tz, frequency=frequency, weekly_day=weekly_day
        )
        subscriber.save(force_insert=True)
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
