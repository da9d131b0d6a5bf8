"""First-party click and open tracking links (issue 6 serves /r/<token>/ and /o/<ref>.gif)."""

from __future__ import annotations

from django.core import signing

from digests.rendering.urls import site_url

CLICK_SALT = "digests.click"


def click_token(digest_id: int, item_id: int) -> str:
    """A signed token naming (digest, item) for the click redirect."""
    return signing.dumps([digest_id, item_id], salt=CLICK_SALT)


def click_url(item, reader_ref: str) -> str:
    """SITE_URL/r/<item token>/?r=<reader_ref>; ``item`` needs ``digest_id`` and ``pk``."""
    return site_url(f"/r/{click_token(item.digest_id, item.pk)}/?r={reader_ref}")


def open_pixel_url(reader_ref: str) -> str:
    """SITE_URL/o/<reader_ref>.gif, the 1×1 open pixel."""
    return site_url(f"/o/{reader_ref}.gif")
