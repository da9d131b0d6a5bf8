"""The reader a signed link names (the signing itself lives in digests.links)."""

from __future__ import annotations

from digests.links import BadToken, reader_key_from_token
from digests.models import Subscriber


def reader_from_token(token: str, purpose: str, *, max_age: float | None = None) -> Subscriber:
    """The subscriber a valid token names; raises BadToken for bad tokens and unknown readers."""
    key = reader_key_from_token(token, purpose, max_age=max_age)
    try:
        return Subscriber.objects.get(key=key)
    except Subscriber.DoesNotExist:
        raise BadToken(purpose) from None
