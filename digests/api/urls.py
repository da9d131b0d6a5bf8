"""/api/v1/ and the schema; /api/docs/ (Swagger UI) and /api/docs/redoc/, served from local assets."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from digests.api import views

PUBLIC = {"authentication_classes": [], "permission_classes": [], "throttle_classes": []}

v1 = [
    path("digests/", views.DigestListCreate.as_view(), name="api-digests"),
    path("digests/<str:date>/", views.DigestDetail.as_view(), name="api-digest"),
    path("digests/<str:date>/markdown", views.DigestMarkdown.as_view(), name="api-digest-markdown"),
    path("digests/<str:date>/preview", views.DigestPreview.as_view(), name="api-digest-preview"),
    path("digests/<str:date>/schedule", views.DigestSchedule.as_view(), name="api-digest-schedule"),
    path("digests/<str:date>/cancel", views.DigestCancel.as_view(), name="api-digest-cancel"),
    path("digests/<str:date>/pause", views.DigestPause.as_view(), name="api-digest-pause"),
    path("digests/<str:date>/resume", views.DigestResume.as_view(), name="api-digest-resume"),
    path("digests/<str:date>/status", views.DigestStatus.as_view(), name="api-digest-status"),
    path("digests/<str:date>/stats", views.DigestStats.as_view(), name="api-digest-stats"),
    path("subscribers/", views.SubscriberListCreate.as_view(), name="api-subscribers"),
    path("subscribers/<uuid:id>/", views.SubscriberDetail.as_view(), name="api-subscriber"),
    path("categories/", views.CategoryList.as_view(), name="api-categories"),
    path("schema/", SpectacularAPIView.as_view(**PUBLIC), name="api-schema"),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html", **PUBLIC),
        name="api-docs",
    ),
    path(
        "api/docs/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html", **PUBLIC),
        name="api-redoc",
    ),
]
