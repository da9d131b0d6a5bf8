"""The mail providers' tracking webhooks: django-anymail's views, mounted for the configured providers only.

anymail's own URLconf mounts every provider; an anonymous POST to one that is
not configured (no signing key, boto3 missing) raised a 500 and mailed the
admins a traceback. Here only WEBHOOK_PROVIDERS get routes, and a request that
anymail refuses, or whose body is not what the provider sends (bad JSON, a
list where an object belongs), answers 400 with one WARNING log line: the
sender is a stranger or a misconfigured provider, not a fault of ours.
"""

from __future__ import annotations

import logging

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailAPIError, AnymailWebhookValidationFailure
from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import URLPattern
from django.utils.decorators import method_decorator
from django.utils.log import log_response
from django.views.decorators.csrf import csrf_exempt

log = logging.getLogger("digests.webhooks")

# What a provider's parser raises on a body it cannot read: invalid JSON or UTF-8
# (ValueError), a list, string or number where an object belongs (TypeError,
# AttributeError), a missing field (KeyError, IndexError).
MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)
# anymail's old name for Brevo keeps its own path.
ALIASES = {"brevo": {"brevo", "sendinblue"}}


class RejectionIsAWarning:
    """Mixed into an anymail webhook view: refused or unreadable requests are a 400 and one WARNING line.

    Only the provider's checks and its parser are guarded: an error in our own
    signal receiver stays a 500, so the provider retries the event later.
    """

    # Providers post without a CSRF token: keep anymail's exemption on the overridden dispatch.
    @method_decorator(csrf_exempt)
    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except AnymailWebhookValidationFailure as exc:
            return _rejected(request, self.esp_name, str(exc))

    def run_validators(self, request):
        try:
            super().run_validators(request)
        except (*MALFORMED, AnymailAPIError) as exc:  # Amazon SES reports an unreadable body as an API error
            raise AnymailWebhookValidationFailure(f"malformed body ({type(exc).__name__})") from None

    def parse_events(self, request):
        try:
            return list(super().parse_events(request))
        except (*MALFORMED, AnymailAPIError) as exc:
            raise AnymailWebhookValidationFailure(f"malformed body ({type(exc).__name__})") from None


def _rejected(request, provider: str, reason: str) -> HttpResponse:
    response = HttpResponseBadRequest(b"webhook rejected\n", content_type="text/plain")
    # log_response marks the response as logged, so Django adds no second "Bad Request" line.
    log_response("%s webhook rejected: %s", provider, reason, response=response, request=request, level="warning", logger=log)
    return response


def _route_provider(pattern: URLPattern) -> str:
    return str(pattern.pattern).lstrip("^").split("/", 1)[0]


def _is_tracking(pattern: URLPattern) -> bool:
    return pattern.name.endswith("_tracking_webhook") or pattern.name == "mandrill_webhook"


def tracking_urlpatterns(providers) -> list[URLPattern]:
    """anymail's tracking routes for ``providers``, each view made to answer rejections with a 400 and a warning."""
    wanted = set().union(*(ALIASES.get(provider, {provider}) for provider in providers)) if providers else set()
    patterns = []
    for pattern in anymail_urls.urlpatterns:
        if _route_provider(pattern) not in wanted or not _is_tracking(pattern):
            continue
        view_class = pattern.callback.view_class
        guarded = type(view_class.__name__, (RejectionIsAWarning, view_class), {"__module__": __name__})
        patterns.append(URLPattern(pattern.pattern, guarded.as_view(), name=pattern.name))
    return patterns
