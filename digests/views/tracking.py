"""Public tracking endpoints: the click redirect and the open pixel. Thin: digests.feedback.clicks decides."""

import hashlib

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from digests.feedback.clicks import click_destination, click_record, open_record
from digests.links import UnknownLink

# The smallest transparent GIF (1x1, 43 bytes).
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _client_key(request) -> str:
    # Only to tell anonymous clickers apart for a few minutes; the address itself is never stored.
    raw = f"{settings.SECRET_KEY}:{request.META.get('REMOTE_ADDR', '')}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


@require_safe
def click(request, token: str):
    """Record the click and redirect to the item's own source link; anything else is a 404."""
    try:
        item, url = click_destination(token)
    except UnknownLink:
        raise Http404("unknown link") from None
    # Link checkers send HEAD; only a real visit (GET) counts as a click.
    if request.method == "GET":
        click_record(item=item, ref=request.GET.get("r"), client_key=_client_key(request), url=url)
    response = HttpResponseRedirect(url)
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_safe
def open_pixel(request, ref: str):
    """A 1x1 GIF that is never cached, so each real open reaches us; records an open."""
    if request.method == "GET":
        open_record(ref=ref)
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    add_never_cache_headers(response)
    response["Pragma"] = "no-cache"
    response["Expires"] = "0"
    return response
