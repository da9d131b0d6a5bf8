"""Values every public page (templates/digests/base.html) shows."""

from django.conf import settings


def site(request) -> dict:
    return {"site_name": settings.SITE_NAME, "publisher_address": settings.PUBLISHER_ADDRESS}
