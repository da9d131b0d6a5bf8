"""API keys: made once and shown once, stored as a hash, checked in constant time, scoped, revocable.

A key reads ``dgk_<prefix>_<secret>``. The prefix finds the row; only the
SHA-256 of the secret is stored, so a leaked database does not leak keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from django.utils import timezone

from digests.models import ApiKey
from digests.models.automation import SCOPES

KEY_START = "dgk_"


class UnknownScope(ValueError):
    pass


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def scopes_parse(value: str | Iterable[str]) -> list[str]:
    """``"digests:write,sends:write"`` → a checked, de-duplicated list; raises UnknownScope."""
    names = value.split(",") if isinstance(value, str) else list(value)
    scopes = [name.strip() for name in names if name.strip()]
    unknown = [name for name in scopes if name not in SCOPES]
    if unknown or not scopes:
        raise UnknownScope(f"unknown scope(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SCOPES)}")
    return list(dict.fromkeys(scopes))


def api_key_create(*, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the full key, which is never available again."""
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(name=name, prefix=prefix, secret_hash=_hash(secret), scopes=scopes_parse(scopes))
    return key, f"{KEY_START}{prefix}_{secret}"


def api_key_authenticate(presented: str) -> ApiKey | None:
    """The active key ``presented`` names, with its last-used time stamped; None when unknown, wrong or revoked."""
    if not presented.startswith(KEY_START):
        return None
    prefix, _, secret = presented[len(KEY_START) :].partition("_")
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first() if prefix and secret else None
    # Compare a hash even when no row matched, so timing does not reveal which prefixes exist.
    expected = key.secret_hash if key else _hash(secrets.token_urlsafe(32))
    if not hmac.compare_digest(expected, _hash(secret)) or key is None:
        return None
    now = timezone.now()
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
    return key


def api_key_revoke(key: ApiKey) -> bool:
    """Stop a key working at once; False if it already was revoked."""
    return bool(ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()))
