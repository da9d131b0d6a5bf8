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
