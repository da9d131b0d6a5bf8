"""Public reader pages: signup, confirmation, preference centre, unsubscribe, data download.

Views only read the request, call one service from digests.readers and pick a
template. Every page reached by a token answers a bad or expired token with
the same friendly 404 page.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from digests.links import BadToken, reader_key_from_token, reader_path
from digests.models import Subscriber
from digests.readers.confirmation import confirmation_max_age, subscriber_confirm
from digests.readers.data_export import DATA_LINK_MAX_AGE, data_export_request
from digests.readers.forms import PreferencesForm, SignupForm, signup_choices_key
from digests.readers.frequency import subscriber_switch_to_weekly, switch_to_weekly_offered
from digests.readers.preferences import (
    preferences_link_max_age,
    subscriber_preferences_editable,
    subscriber_update_preferences,
)
from digests.readers.privacy import subscriber_data_export
from digests.readers.ratelimit import rate_limit_allows
from digests.readers.signup import subscriber_signup
from digests.readers.tokens import reader_from_token
from digests.readers.unsubscribe import subscriber_unsubscribe
from digests.views.rendered_once import render_once
from newsletter.env import rate_parse

S = Subscriber.Status


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the header a trusted proxy sets (CLIENT_IP_HEADER)."""
    header = getattr(settings, "CLIENT_IP_HEADER", "")
    if header:
        value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        # X-Forwarded-For lists every hop; the last one was added by our own proxy.
        value = value.split(",")[-1].strip()
        if value:
            return value
    return request.META.get("REMOTE_ADDR", "")


def home(request: HttpRequest) -> HttpResponse:
    return redirect("digests:subscribe")


def link_invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "404.html", {"link_invalid": True}, status=404)


def _genuine_token_of_erased_reader(token: str) -> bool:
    try:
        reader_key_from_token(token, "unsubscribe")
    except BadToken:
        return False
    return True


def consent_wording() -> str:
    """The sentence on the confirm button's page; stored verbatim as the consent record."""
    return _(
        "Yes, please send me the %(site)s email digest with the categories I chose. "
        "I can change them or unsubscribe at any time from the links in every email."
    ) % {"site": settings.SITE_NAME}


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render_once(request, "digests/subscribe.html", key=(signup_choices_key(),), context=lambda: {"form": SignupForm()})
    if not rate_limit_allows("signup-ip", client_ip(request), settings.SIGNUP_RATE_PER_IP, setting="SIGNUP_RATE_PER_IP"):
        _limit, period = rate_parse(settings.SIGNUP_RATE_PER_IP)
        response = render(request, "digests/subscribe_limited.html", status=429)
        response["Retry-After"] = str(period)
        return response
    form = SignupForm(request.POST)
    if form.is_bot:
        return render_once(request, "digests/subscribe_done.html")
    if not form.is_valid():
        return render(request, "digests/subscribe.html", {"form": form})
    subscriber_signup(
        email=form.cleaned_data["email"],
        name=form.cleaned_data["name"],
        categories=form.cleaned_data["categories"],
        language=get_language(),
        frequency=form.cleaned_data["frequency"],
        weekly_day=form.cleaned_data["weekly_day"],
    )
    # The same page whatever happened, so nothing tells who is on the list.
    return render_once(request, "digests/subscribe_done.html")


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = reader_from_token(token, "confirm", max_age=confirmation_max_age())
    except BadToken:
        return link_invalid(request)
    if subscriber.status not in (S.PENDING, S.ACTIVE):
        # Unsubscribed since the email was sent: only a new signup brings them back.
        return link_invalid(request)
    wording = consent_wording()
    if request.method == "POST":
        subscriber_confirm(subscriber, ip=client_ip(request), form=f"{subscriber.source}+confirm", wording=wording)
    if subscriber.status == S.ACTIVE:
        return render(
            request,
            "digests/confirm_done.html",
            {
                "subscriber": subscriber,
                "categories": subscriber.categories.order_by("position", "id"),
                "preferences_path": reader_path(subscriber.key, "preferences"),
            },
        )
    return render(request, "digests/confirm.html", {"wording": wording})


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = reader_from_token(token, "preferences", max_age=preferences_link_max_age())
    except BadToken:
        return link_invalid(request)
    if not subscriber_preferences_editable(subscriber):
        return render(request, "digests/preferences_closed.html", {"subscriber": subscriber})
    saved = False
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            subscriber_update_preferences(
                subscriber,
                categories=form.cleaned_data["categories"],
                timezone=form.cleaned_data["timezone"],
                language=form.cleaned_data["language"],
                frequency=form.cleaned_data["frequency"],
                weekly_day=form.cleaned_data["weekly_day"],
            )
            saved = True
    else:
        form = PreferencesForm(
            initial={
                "categories": list(subscriber.categories.filter(is_active=True).values_list("pk", flat=True)),
                "timezone": subscriber.timezone,
                "language": subscriber.language,
                "frequency": subscriber.frequency,
                "weekly_day": subscriber.weekly_day,
            }
        )
    return render(
        request,
        "digests/preferences.html",
        {
            "form": form,
            "subscriber": subscriber,
            "saved": saved,
            "unsubscribe_path": reader_path(subscriber.key, "unsubscribe"),
            "export_path": reverse("digests:reader_data_request", kwargs={"token": token}),
            "export_sent": request.GET.get("export") == "sent",
        },
    )


@never_cache
@require_POST
def reader_data_request(request: HttpRequest, token: str) -> HttpResponse:
    """The preference page's "email me my data": the download link goes to the reader's inbox, never to this page."""
    try:
        subscriber = reader_from_token(token, "preferences", max_age=preferences_link_max_age())
    except BadToken:
        return link_invalid(request)
    data_export_request(subscriber)
    # The same answer whether or not the rate limit let an email go.
    return redirect(reverse("digests:preferences", kwargs={"token": token}) + "?export=sent")


@never_cache
@require_GET
def reader_data(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = reader_from_token(token, "data", max_age=DATA_LINK_MAX_AGE)
    except BadToken:
        return link_invalid(request)
    body = json.dumps(subscriber_data_export(subscriber), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-newsletter-data.json"'
    return response


# RFC 8058: mail providers POST here with no cookies and no CSRF token. The
# token in the URL is the secret; GET only shows the button (link scanners
# open GET links), so exempting this one view from CSRF is safe.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = reader_from_token(token, "unsubscribe")
    except BadToken:
        if request.method == "POST" and _genuine_token_of_erased_reader(token):
            # An erased reader gets no mail anyway; tell the provider it worked.
            return render(request, "digests/unsubscribe_done.html")
        return link_invalid(request)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        subscriber_unsubscribe(subscriber, reason="one-click unsubscribe" if one_click else "unsubscribe page")
        return render(request, "digests/unsubscribe_done.html", {"subscriber": subscriber})
    return render(
        request,
        "digests/unsubscribe.html",
        {
            "subscriber": subscriber,
            "already": subscriber.status == S.UNSUBSCRIBED,
            "offer_weekly": switch_to_weekly_offered(subscriber),
            "weekly_path": reverse("digests:unsubscribe_weekly", kwargs={"token": token}),
        },
    )


# The unsubscribe page's other button. Unlike the unsubscribe URL this one is
# not for mail providers, so it keeps CSRF protection.
@never_cache
@require_POST
def unsubscribe_weekly(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = reader_from_token(token, "unsubscribe")
    except BadToken:
        return link_invalid(request)
    if subscriber.status != S.ACTIVE:
        # Left (or never confirmed) since the page was shown: nothing to switch.
        return redirect(reverse("digests:unsubscribe", kwargs={"token": token}))
    if subscriber.frequency != Subscriber.Frequency.WEEKLY:
        subscriber_switch_to_weekly(subscriber)
    return render(
        request,
        "digests/unsubscribe_weekly_done.html",
        {
            "subscriber": subscriber,
            "preferences_path": reader_path(subscriber.key, "preferences"),
            "unsubscribe_path": reverse("digests:unsubscribe", kwargs={"token": token}),
        },
    )
