from django.urls import path

from digests import views, views_ops

app_name = "digests"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views_ops.healthz, name="healthz"),
    path("metrics", views_ops.metrics, name="metrics"),
]
