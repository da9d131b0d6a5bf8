from django.urls import path

from digests import views

app_name = "digests"

urlpatterns = [
    path("", views.home, name="home"),
]

from digests import views_readers  # noqa: E402  (reader pages: paths fixed by digests.readers.tokens.PATHS)

urlpatterns += [
    path("subscribe/", views_readers.subscribe, name="subscribe"),
    path("confirm/<str:token>/", views_readers.confirm, name="confirm"),
    path("preferences/<str:token>/", views_readers.preferences, name="preferences"),
    path("preferences/<str:token>/data/", views_readers.reader_data, name="reader_data"),
    path("unsubscribe/<str:token>/", views_readers.unsubscribe, name="unsubscribe"),
]
