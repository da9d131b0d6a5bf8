"""Every public page. Paths are public interfaces: delivered emails carry them, so they never change."""

from django.urls import path

from digests.views import archive, feeds, ops, readers, tracking, webhooks

app_name = "digests"

urlpatterns = [
    path("", readers.home, name="home"),
    # Readers
    path("subscribe/", readers.subscribe, name="subscribe"),
    path("confirm/<str:token>/", readers.confirm, name="confirm"),
    path("preferences/<str:token>/", readers.preferences, name="preferences"),
    path("preferences/<str:token>/data/", readers.reader_data, name="reader_data"),
    path("preferences/<str:token>/export/", readers.reader_data_request, name="reader_data_request"),
    path("unsubscribe/<str:token>/", readers.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/weekly/", readers.unsubscribe_weekly, name="unsubscribe_weekly"),
    # The archive and its feeds
    path("archive/", archive.archive, name="archive"),
    path("archive/weekly/<str:issue_date>/", archive.archive_weekly, name="archive_weekly"),
    path("archive/<str:issue_date>/", archive.archive_digest, name="archive_digest"),
    path("feed/", feeds.DigestFeed(), name="feed"),
    # Before the category feeds: "weekly" is this feed, never a category's slug.
    path("feed/weekly/", feeds.WeeklyFeed(), name="weekly_feed"),
    path("feed/<slug:slug>/", feeds.CategoryFeed(), name="category_feed"),
    # Click and open tracking
    path("r/<str:token>/", tracking.click, name="click"),
    path("o/<str:ref>.gif", tracking.open_pixel, name="open_pixel"),
    # Operators
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
]


def webhook_urlpatterns(providers) -> list:
    """django-anymail's tracking webhook paths of ``providers`` only (mounted at /webhooks/anymail/), each
    answering a malformed or refused request with 400 and one WARNING line."""
    return webhooks.tracking_urlpatterns(providers)
