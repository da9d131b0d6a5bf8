from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("webhooks/anymail/", include("anymail.urls")),
    path("", include("digests.api.urls")),
    path("", include("digests.urls")),
]
