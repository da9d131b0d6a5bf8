"""First-party click and open tracking.

A tracked link is ``/r/<item token>/?r=<reader ref>``: the item token signs
(digest id, item id) and the redirect goes only to the URL stored on that
item, so the endpoint can never be used as an open redirect. The reader
reference is optional; without a valid one the click still redirects but is
recorded without a reader.
"""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

from django.conf import settings

from digests.content.markup import item_link_targets
from digests.feedback.events import event_store_first_party
from digests.links import BadToken, UnknownLink, click_target, reader_key_from_token, reader_token_signed_at
from digests.models import Delivery, Item, Subscriber
from digests.readers.shared_cache import shared_cache_call

# One row per reader and item (or per reader and message for opens) within
# this window: reloads and link scanners firing twice add nothing but noise.
REPEAT_WINDOW_SECONDS = 600


def click_destination(token: str) -> tuple[Item, str]:
    """The item a valid click token names and where the click goes: the item's own source link, or
    one of the inline links in its text; raises UnknownLink otherwise (never an open redirect)."""
    digest_id, item_id, link = click_target(token)
    item = Item.objects.filter(pk=item_id, digest_id=digest_id).first()
    if item is None:
        raise UnknownLink(token)
    if link:
        targets = item_link_targets(item)
        url = targets[link - 1] if link <= len(targets) else ""
    else:
        url = item.source_url
    if urlsplit(url).scheme not in ("http", "https"):
        raise UnknownLink(token)
    return item, url


def item_from_click_token(token: str) -> Item:
    """The item a valid click token names, if its link is http(s); raises UnknownLink otherwise."""
    return click_destination(token)[0]


def _reader_ref(ref: str | None) -> tuple[Subscriber, datetime.datetime] | None:
    """The reader a reference names and when it was signed (i.e. when the email was made)."""
    if not ref:
        return None
    try:
        key = reader_key_from_token(ref, "ref")
    except BadToken:
        return None
    subscriber = Subscriber.objects.filter(key=key).first()
    if subscriber is None:
        return None
    return subscriber, reader_token_signed_at(ref)


def _first_in_window(key: str) -> bool:
    # Without the shared cache, repeats are told apart per process: a few duplicates, never a failed redirect.
    return shared_cache_call("click and open de-duplication", lambda store: store.add(key, 1, timeout=REPEAT_WINDOW_SECONDS))


def click_record(*, item: Item, ref: str | None, client_key: str, url: str | None = None) -> None:
    """Record a click on ``item`` (when click tracking is on) for the reader ``ref`` names, if any."""
    if not settings.TRACK_CLICKS:
        return
    reader = _reader_ref(ref)
    subscriber = reader[0] if reader else None
    who = f"s{subscriber.pk}" if subscriber else f"c{client_key}"
    url = url or item.source_url
    if not _first_in_window(f"feedback:click:{item.pk}:{url}:{who}"):
        return
    delivery = Delivery.objects.filter(digest_id=item.digest_id, subscriber=subscriber).first() if subscriber else None
    event_store_first_party(event_type="clicked", subscriber=subscriber, delivery=delivery, item=item, url=url)


def open_record(*, ref: str) -> None:
    """Record an open for the delivery a pixel's reader reference belongs to (when open tracking is on).

    The pixel carries only the reader; the message is the reader's latest sent
    delivery created before the reference was signed, which is the send that
    personalised this copy.
    """
    if not settings.TRACK_OPENS:
        return
    reader = _reader_ref(ref)
    if reader is None:
        return
    subscriber, signed_at = reader
    delivery = (
        Delivery.objects.filter(
            subscriber=subscriber, sent_at__isnull=False, created_at__lte=signed_at + datetime.timedelta(seconds=5)
        )
        .order_by("-created_at")
        .first()
    )
    if delivery is None or not _first_in_window(f"feedback:open:{delivery.pk}"):
        return
    event_store_first_party(event_type="opened", subscriber=subscriber, delivery=delivery)
