"""Signed, unguessable tokens for every reader link.

A token signs the subscriber's random key (never the address or the row id)
with a salt per purpose, so an unsubscribe token cannot confirm an address and
a tampered token is rejected. Links are built from fixed paths rather than
``reverse()`` because a send builds one set per reader.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core import signing

from digests.models import Subscriber
from digests.rendering.links import ReaderLinks

PURPOSES = ("confirm", "preferences", "unsubscribe", "data", "ref")

# Public URL paths; digests/urls.py mounts the views on exactly these.
PATHS = {
    "confirm": "/confirm/{token}/",
    "preferences": "/preferences/{token}/",
    "unsubscribe": "/unsubscribe/{token}/",
    "data": "/preferences/{token}/data/",
}


class BadToken(Exception):
    """The token is malformed, tampered with, for another purpose, or expired."""


def _signer(purpose: str) -> signing.TimestampSigner:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return signing.TimestampSigner(salt=f"digests.reader.{purpose}")


def reader_token(subscriber: Subscriber, purpose: str) -> str:
    """A URL-safe token for ``purpose`` that identifies ``subscriber`` by its random key."""
    return _signer(purpose).sign(subscriber.key.hex)


def reader_key_from_token(token: str, purpose: str, *, max_age: float | None = None) -> uuid.UUID:
    """The subscriber key inside a valid token; raises BadToken otherwise."""
    try:
        value = _signer(purpose).unsign(token, max_age=max_age)
        return uuid.UUID(hex=value)
    except (signing.BadSignature, ValueError):
        raise BadToken(purpose) from None


def reader_from_token(token: str, purpose: str, *, max_age: float | None = None) -> Subscriber:
    """The subscriber a valid token names; raises BadToken for bad tokens and unknown readers."""
    key = reader_key_from_token(token, purpose, max_age=max_age)
    try:
        return Subscriber.objects.get(key=key)
    except Subscriber.DoesNotExist:
        raise BadToken(purpose) from None


def reader_url(subscriber: Subscriber, purpose: str) -> str:
    return settings.SITE_URL + PATHS[purpose].format(token=reader_token(subscriber, purpose))


def reader_links(subscriber: Subscriber) -> ReaderLinks:
    """The links that go into one reader's copy of a digest."""
    return ReaderLinks(
        preferences_url=reader_url(subscriber, "preferences"),
        unsubscribe_url=reader_url(subscriber, "unsubscribe"),
        reader_ref=reader_token(subscriber, "ref"),
    )
