from django.urls import path

from digests import views
from digests import feeds, views_archive  # archive pages and feeds (rendering)

app_name = "digests"

urlpatterns = [
    path("", views.home, name="home"),
    path("archive/", views_archive.archive, name="archive"),
    path("archive/<str:issue_date>/", views_archive.archive_digest, name="archive_digest"),
    path("feed/", feeds.DigestFeed(), name="feed"),
    path("feed/<slug:slug>/", feeds.CategoryFeed(), name="category_feed"),
]
