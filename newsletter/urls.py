from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from digests.admin.language import admin_set_language
from digests.urls import webhook_urlpatterns


class FaviconRedirect(RedirectView):
    """Browsers ask for /favicon.ico before reading any page; send them to the static icon."""

    def get_redirect_url(self, *args, **kwargs):
        return static("digests/favicon.svg")


urlpatterns = [
    path("favicon.ico", FaviconRedirect.as_view(), name="favicon"),
    path("admin/language/", admin_set_language, name="admin_set_language"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # Only the configured providers' tracking webhooks (WEBHOOK_PROVIDERS); every other provider's path is a 404.
    path("webhooks/anymail/", include((webhook_urlpatterns(settings.WEBHOOK_PROVIDERS), "anymail"))),
    path("", include("digests.api.urls")),
    path("", include("digests.urls")),
]
