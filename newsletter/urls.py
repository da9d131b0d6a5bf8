from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from digests.admin.language import admin_set_language


class FaviconRedirect(RedirectView):
    """Browsers ask for /favicon.ico before reading any page; send them to the static icon."""

    def get_redirect_url(self, *args, **kwargs):
        return static("digests/favicon.svg")


urlpatterns = [
    path("favicon.ico", FaviconRedirect.as_view(), name="favicon"),
    path("admin/language/", admin_set_language, name="admin_set_language"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("webhooks/anymail/", include("anymail.urls")),
    path("", include("digests.urls")),
]
