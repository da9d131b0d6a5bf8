from django.urls import path

from digests import views
from digests import feeds, views_archive  # archive pages and feeds (rendering)
from digests import views_feedback  # click redirect and open pixel (feedback)

app_name = "digests"

urlpatterns = [
    path("", views.home, name="home"),
    path("archive/", views_archive.archive, name="archive"),
    path("archive/<str:issue_date>/", views_archive.archive_digest, name="archive_digest"),
    path("feed/", feeds.DigestFeed(), name="feed"),
    path("feed/<slug:slug>/", feeds.CategoryFeed(), name="category_feed"),
    path("r/<str:token>/", views_feedback.click, name="click"),
    path("o/<str:ref>.gif", views_feedback.open_pixel, name="open_pixel"),
]

from digests import views_readers  # noqa: E402  (reader pages: paths fixed by digests.readers.tokens.PATHS)

urlpatterns += [
    path("subscribe/", views_readers.subscribe, name="subscribe"),
    path("confirm/<str:token>/", views_readers.confirm, name="confirm"),
    path("preferences/<str:token>/", views_readers.preferences, name="preferences"),
    path("preferences/<str:token>/data/", views_readers.reader_data, name="reader_data"),
    path("unsubscribe/<str:token>/", views_readers.unsubscribe, name="unsubscribe"),
]

from digests import views_ops  # noqa: E402  (/healthz and /metrics for operators)

urlpatterns += [
    path("healthz", views_ops.healthz, name="healthz"),
    path("metrics", views_ops.metrics, name="metrics"),
]
