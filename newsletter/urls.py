from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from digests.urls import webhook_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # Only the configured providers' tracking webhooks (WEBHOOK_PROVIDERS); every other provider's path is a 404.
    path("webhooks/anymail/", include((webhook_urlpatterns(settings.WEBHOOK_PROVIDERS), "anymail"))),
    path("", include("digests.api.urls")),
    path("", include("digests.urls")),
]
