from django.conf import settings
from django.contrib import admin
from django.urls import reverse_lazy
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from digests.admin import (
    automation,  # noqa: F401  (API keys, webhook endpoints)
    digests,  # noqa: F401  (registers the editorial admin)
    feedback,  # noqa: F401  (delivery events, statistics pages)
    readers,  # noqa: F401  (registers the subscriber admin)
)


def _header() -> str:
    # Outside the f-string: xgettext cannot see calls inside one, so makemessages would miss it.
    newsroom = _("Newsroom")
    return f"{settings.SITE_NAME} · {newsroom}"


admin.site.site_header = lazy(_header, str)()
admin.site.site_title = lazy(_header, str)()
admin.site.index_title = _("Digests, readers and sending")
admin.site.site_url = reverse_lazy("digests:archive")
