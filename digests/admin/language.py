"""The admin's language belongs to the staff user, not to one browser.

Choosing a language in the admin header stores it on the user
(``StaffPreference``) as well as in the usual cookie; on every admin page a
signed-in staff user gets their stored language, whichever browser they use.
The login page (nobody signed in yet) follows the cookie or the browser.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from digests.models import StaffPreference


def staff_language(*, user) -> str | None:
    """The staff user's stored admin language, if they chose one."""
    if not (user.is_authenticated and user.is_staff):
        return None
    return StaffPreference.objects.filter(user=user).values_list("language", flat=True).first()


def staff_language_set(*, user, language: str) -> None:
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise ValueError(f"unknown language {language!r}")
    StaffPreference.objects.update_or_create(user=user, defaults={"language": language})


@require_POST
def admin_set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie and redirect), and for staff the language kept on their account."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and request.user.is_staff and translation.check_for_language(language):
        try:
            staff_language_set(user=request.user, language=language)
        except ValueError:
            pass
    return response


class StaffLanguageMiddleware:
    """On admin pages, a signed-in staff user's stored language wins over the cookie and the browser."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/admin/") and hasattr(request, "user"):
            language = staff_language(user=request.user)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)
