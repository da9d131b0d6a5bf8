"""Every link an email or a feed carries, and the signing behind each reader link.

A leaf: it imports nothing of the app, so readers, rendering, delivery and
feedback all build and check links here, and a token signed in one stage is
checked with the same salt in another.

* Reader links (confirm, preferences, unsubscribe, data download) sign the
  subscriber's random key (never the address or the row id) with a salt per
  purpose, so an unsubscribe token cannot confirm an address and a tampered
  token is rejected. ``ref`` signs the same key for click and open tracking.
* Click links sign (digest id, item id); the redirect goes only to the URL
  stored on that item, so the endpoint can never be an open redirect.

Paths come from ``reverse()``. A send builds links for every reader, so each
path is reversed once with a marker token and then filled in.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import get_urlconf, reverse
from django.utils.encoding import force_bytes

READER_PURPOSES = ("confirm", "preferences", "unsubscribe", "data", "ref")
URL_NAMES = {
    "confirm": "digests:confirm",
    "preferences": "digests:preferences",
    "unsubscribe": "digests:unsubscribe",
    "data": "digests:reader_data",
}
CLICK_SALT = "digests.click"
_TOKEN_MARK = "TOKENxMARK"


@dataclass(frozen=True)
class ReaderLinks:
    """What differs between two readers' copies of one variant, besides the address."""

    preferences_url: str
    unsubscribe_url: str
    # A signed reference to this reader, for click/open tracking links
    # (/r/<item token>/?r=<reader_ref>); empty outside a real send.
    reader_ref: str = ""


# A variant (digest + category set) is rendered and inlined once with these
# ASCII placeholders; each reader's copy replaces them with their own links.
# No character in them is altered by HTML escaping, quoted-printable or URL encoding.
PLACEHOLDER_LINKS = ReaderLinks(
    preferences_url="https://reader.invalid/PREFERENCESxTOKENxPLACEHOLDER",
    unsubscribe_url="https://reader.invalid/UNSUBSCRIBExTOKENxPLACEHOLDER",
    reader_ref="READERxREFxPLACEHOLDER",
)


class BadToken(Exception):
    """The token is malformed, tampered with, for another purpose, or expired."""


class UnknownLink(Exception):
    """The click token is tampered with or malformed."""


# --- Absolute URLs ----------------------------------------------------------------------------


def site_url(path: str) -> str:
    """``path`` (starting with /) made absolute on SITE_URL."""
    return settings.SITE_URL.rstrip("/") + path


def archive_url(issue_date: datetime.date, *, weekly: bool = False) -> str:
    """The public web page of the issue of ``issue_date`` (the "view in browser" link); with
    ``weekly``, of the weekly edition ending on that day."""
    name = "digests:archive_weekly" if weekly else "digests:archive_digest"
    return site_url(reverse(name, kwargs={"issue_date": issue_date.isoformat()}))


@functools.cache
def _path_template(urlconf, name: str) -> str:
    return reverse(name, urlconf=urlconf, kwargs={"token": _TOKEN_MARK})


def _token_path(name: str, token: str) -> str:
    return _path_template(get_urlconf(), name).replace(_TOKEN_MARK, token)


# --- Reader links -----------------------------------------------------------------------------


def _salt(purpose: str) -> str:
    if purpose not in READER_PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return f"digests.reader.{purpose}"


def _signer(purpose: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_salt(purpose))


@functools.lru_cache(maxsize=32)
def _purpose_hashes(secret: str | bytes, purpose: str) -> tuple:
    """HMAC-SHA256 keyed as Django's ``salted_hmac`` keys a signer (sha256(salt + "signer" + secret)),
    as its two padded-key hashes, started once: a send signs three tokens per reader, and Django
    derives the key anew for every one. Keyed on the secret, so a new SECRET_KEY is never signed
    with a stale key."""
    key = hashlib.sha256(force_bytes(_salt(purpose) + "signer") + force_bytes(secret)).digest()
    block = key.ljust(hashlib.sha256().block_size, b"\0")
    # RFC 2104 by hand: copying two started hashes is about twice as fast as hmac.HMAC.copy().
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))
    return inner, outer


def _signed(value: str, secret: str | bytes, purpose: str) -> str:
    """What ``TimestampSigner(salt=...).sign`` makes of ``value`` already joined to its timestamp."""
    inner, outer = _purpose_hashes(secret, purpose)
    inner, outer = inner.copy(), outer.copy()
    inner.update(value.encode())
    outer.update(inner.digest())
    return f"{value}:{base64.urlsafe_b64encode(outer.digest()).rstrip(b'=').decode()}"


def _timestamp() -> str:
    return signing.b62_encode(int(time.time()))


def reader_token(key: uuid.UUID, purpose: str) -> str:
    """A URL-safe token for ``purpose`` naming the reader whose random key is ``key``.

    Byte for byte what Django's ``TimestampSigner(salt="digests.reader.<purpose>").sign(key.hex)``
    makes (``value:timestamp:signature``), so Django's signer verifies it, old keys included.
    """
    return _signed(f"{key.hex}:{_timestamp()}", settings.SECRET_KEY, purpose)


def reader_key_from_token(token: str, purpose: str, *, max_age: float | None = None) -> uuid.UUID:
    """The reader key inside a valid token; raises BadToken otherwise."""
    try:
        return uuid.UUID(hex=_signer(purpose).unsign(token, max_age=max_age))
    except (signing.BadSignature, ValueError):
        raise BadToken(purpose) from None


def reader_token_signed_at(token: str) -> datetime.datetime:
    """When a token (already verified) was signed: TimestampSigner output is value:timestamp:signature."""
    return datetime.datetime.fromtimestamp(signing.b62_decode(token.rsplit(":", 2)[1]), tz=datetime.UTC)


def reader_path(key: uuid.UUID, purpose: str) -> str:
    """The site-relative path of a reader page (confirm, preferences, unsubscribe, data)."""
    return _token_path(URL_NAMES[purpose], reader_token(key, purpose))


def reader_url(key: uuid.UUID, purpose: str) -> str:
    return site_url(reader_path(key, purpose))


def reader_links(key: uuid.UUID) -> ReaderLinks:
    """The links that go into one reader's copy of a digest."""
    return reader_links_many([key])[0]


def reader_links_many(keys: Iterable[uuid.UUID]) -> list[ReaderLinks]:
    """``reader_links`` for each key, in order: the settings, URL paths and timestamp are looked up
    once for them all, so a batch pays only for the signing (three HMACs) per reader."""
    stamp, secret, base, urlconf = _timestamp(), settings.SECRET_KEY, settings.SITE_URL.rstrip("/"), get_urlconf()
    preferences = (base + _path_template(urlconf, URL_NAMES["preferences"])).split(_TOKEN_MARK)
    unsubscribe = (base + _path_template(urlconf, URL_NAMES["unsubscribe"])).split(_TOKEN_MARK)
    links = []
    for key in keys:
        value = f"{key.hex}:{stamp}"
        links.append(
            ReaderLinks(
                preferences_url=_signed(value, secret, "preferences").join(preferences),
                unsubscribe_url=_signed(value, secret, "unsubscribe").join(unsubscribe),
                reader_ref=_signed(value, secret, "ref"),
            )
        )
    return links


def inert_links() -> ReaderLinks:
    """The links of a test copy: the real pages, with a token that names no reader."""
    return ReaderLinks(
        preferences_url=site_url(_token_path(URL_NAMES["preferences"], "test-copy")),
        unsubscribe_url=site_url(_token_path(URL_NAMES["unsubscribe"], "test-copy")),
        reader_ref="test-copy",
    )


# --- Tracking links ---------------------------------------------------------------------------


def click_token(digest_id: int, item_id: int, link: int = 0) -> str:
    """A signed token naming (digest, item) for the click redirect to the item's source, or with
    ``link`` (1, 2, …) to that inline link of the item's text."""
    value = [digest_id, item_id] if not link else [digest_id, item_id, link]
    return signing.dumps(value, salt=CLICK_SALT)


def click_target(token: str) -> tuple[int, int, int]:
    """The (digest id, item id, inline link number or 0 for the source) a click token names; raises UnknownLink otherwise."""
    try:
        value = signing.loads(token, salt=CLICK_SALT)
    except signing.BadSignature:
        raise UnknownLink(token) from None
    if not (isinstance(value, list) and len(value) in (2, 3) and all(type(v) is int for v in value)):
        raise UnknownLink(token)
    return value[0], value[1], value[2] if len(value) == 3 else 0


def click_url(digest_id: int, item_id: int, reader_ref: str, link: int = 0) -> str:
    """SITE_URL/r/<item token>/?r=<reader_ref>."""
    return site_url(_token_path("digests:click", click_token(digest_id, item_id, link)) + f"?r={reader_ref}")


def open_pixel_url(reader_ref: str) -> str:
    """SITE_URL/o/<reader_ref>.gif, the 1×1 open pixel."""
    return site_url(reverse("digests:open_pixel", kwargs={"ref": reader_ref}))
