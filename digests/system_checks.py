"""System checks for a production set-up: ``python manage.py check --deploy`` names what is missing.

The warnings are deploy-only (like Django's own security checks), so a laptop run
stays quiet; the beat-schedule error applies everywhere because without it no
digest is ever sent.
"""

from __future__ import annotations

import re
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

# Reserved names (RFC 2606, RFC 6761, RFC 6762) that never receive mail from the Internet.
UNDELIVERABLE_SUFFIXES = (".localhost", ".local", ".test", ".invalid", ".example", ".internal", ".lan", ".home.arpa")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
DISPATCHER_TASK = "digests.tasks.dispatch_due_digests"
# .env.example marks every secret it ships with this, so a forgotten one is caught.
EXAMPLE_SECRET_MARK = "change-me"

# What a multi-machine production stack must set; docker-compose.yml provides each one.
PRODUCTION_ENV = (
    "SECRET_KEY",
    "SITE_URL",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
)


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2].lower().rstrip(".")


def _undeliverable(domain: str) -> bool:
    return domain in LOCAL_HOSTS or "." not in domain or domain.endswith(UNDELIVERABLE_SUFFIXES)


@register(Tags.security, deploy=True)
def check_site_url(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    parts = urlsplit(settings.SITE_URL)
    host = (parts.hostname or "").lower()
    if host in LOCAL_HOSTS or _undeliverable(host):
        return [
            Warning(
                f"SITE_URL is {settings.SITE_URL!r}: readers cannot open links to a local host.",
                hint="Set SITE_URL to the public https address of the site, e.g. https://news.example.com.",
                id="digests.W001",
            )
        ]
    if parts.scheme != "https":
        return [
            Warning(
                f"SITE_URL {settings.SITE_URL!r} is not https: reader links and tokens travel in clear text, "
                "and HSTS and secure cookies stay off.",
                hint="Serve the site over https and set SITE_URL=https://….",
                id="digests.W002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_webhook_secret(app_configs, **kwargs):
    if settings.DEBUG or settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return []
    return [
        Warning(
            "ANYMAIL_WEBHOOK_SECRET is not set: provider webhooks (bounces, complaints) cannot be authenticated, "
            "so anyone could post fake events that suppress readers.",
            hint='Set ANYMAIL_WEBHOOK_SECRET to a random "user:password" and put it in the webhook URL at the provider.',
            id="digests.W003",
        )
    ]


@register(Tags.security, deploy=True)
def check_from_domain(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    domain = _domain(settings.DEFAULT_FROM_EMAIL)
    messages = []
    if _undeliverable(domain):
        messages.append(
            Warning(
                f"DEFAULT_FROM_EMAIL {settings.DEFAULT_FROM_EMAIL!r} uses the reserved domain {domain!r}: "
                "mailbox providers reject or junk such mail.",
                hint="Use an address on a domain you own with SPF, DKIM and DMARC set up.",
                id="digests.W004",
            )
        )
    providers = {options.get("provider") for options in settings.MAIL_CONNECTIONS.values()}
    sender_domain = str(settings.ANYMAIL.get("MAILGUN_SENDER_DOMAIN", "")).lower().rstrip(".")
    if "mailgun" in providers and sender_domain and sender_domain != domain and not domain.endswith("." + sender_domain):
        messages.append(
            Warning(
                f"Mailgun signs with ANYMAIL_MAILGUN_SENDER_DOMAIN={sender_domain!r} but DEFAULT_FROM_EMAIL is on "
                f"{domain!r}: DKIM will not align with the From domain and DMARC fails.",
                hint="Send from an address on the Mailgun sending domain (or a subdomain of it).",
                id="digests.W005",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def check_secret_key_from_env(app_configs, **kwargs):
    if settings.DEBUG or settings.SECRET_KEY_FROM_ENV:
        return []
    return [
        Warning(
            "SECRET_KEY is not set in the environment; a key generated into VAR_DIR is used. Each machine would "
            "have its own, and reader links signed on one would fail on another.",
            hint="Set SECRET_KEY (32+ random characters) to the same value on every machine.",
            id="digests.W006",
        )
    ]


@register(Tags.security, deploy=True)
def check_example_secrets(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    webhook = settings.ANYMAIL.get("WEBHOOK_SECRET", "")
    candidates = {
        "SECRET_KEY": settings.SECRET_KEY,
        "the database password": settings.DATABASES["default"].get("PASSWORD") or "",
        "ANYMAIL_WEBHOOK_SECRET": ",".join(webhook) if isinstance(webhook, list) else webhook,
    }
    placeholders = [name for name, value in candidates.items() if EXAMPLE_SECRET_MARK in value]
    if not placeholders:
        return []
    return [
        Warning(
            f"{', '.join(placeholders)} still contain the {EXAMPLE_SECRET_MARK!r} value from .env.example.",
            hint='Replace them with random values: python3 -c "import secrets; print(secrets.token_urlsafe(50))".',
            id="digests.W008",
        )
    ]


@register(Tags.compatibility, deploy=True)
def check_shared_services(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    single_machine = []
    if "sqlite" in settings.DATABASES["default"]["ENGINE"]:
        single_machine.append("DATABASE_URL (SQLite)")
    if not settings.CELERY_BROKER_URL.startswith(("redis", "rediss", "amqp")):
        single_machine.append(f"CELERY_BROKER_URL ({settings.CELERY_BROKER_URL.split('://')[0]}://)")
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        single_machine.append("CACHE_URL (not Redis)")
    if not single_machine:
        return []
    return [
        Warning(
            f"{', '.join(single_machine)} only work on one machine: workers elsewhere would not share the queue, "
            "the send rate limit or the beat heartbeat.",
            hint="Use PostgreSQL and Redis in production (see docker-compose.yml).",
            id="digests.W007",
        )
    ]


@register(Tags.security, deploy=True)
def check_footer_identity(app_configs, **kwargs):
    """Every digest footer names the publisher and a physical postal address (CAN-SPAM)."""
    if settings.DEBUG:
        return []
    problems = []
    if not settings.PUBLISHER_POSTAL_ADDRESS.strip():
        problems.append(
            Warning(
                "PUBLISHER_POSTAL_ADDRESS is empty: commercial email must show the sender's physical postal address "
                "(CAN-SPAM), and readers trust a newsletter that says who sends it.",
                hint="Set PUBLISHER_POSTAL_ADDRESS to a street address or a registered post box.",
                id="digests.W011",
            )
        )
    reserved = sorted(
        {
            domain
            for domain in re.findall(r"[\w.-]+@([\w.-]+)|https?://([\w.-]+)", settings.PUBLISHER_ADDRESS)
            for domain in domain
            if domain and _undeliverable(domain.lower().rstrip("."))
        }
    )
    if reserved:
        problems.append(
            Warning(
                f"PUBLISHER_ADDRESS {settings.PUBLISHER_ADDRESS!r} names {', '.join(reserved)}, a reserved domain "
                "that never receives mail: the footer tells readers to write to an address that does not exist.",
                hint="Set PUBLISHER_ADDRESS to the publisher's name and a real contact on the sending domain.",
                id="digests.W012",
            )
        )
    return problems


@register(Tags.compatibility)
def check_beat_schedule(app_configs, **kwargs):
    from newsletter.celery import app

    entry = app.conf.beat_schedule.get("dispatch-due-digests")
    if entry and entry.get("task") == DISPATCHER_TASK:
        return []
    return [
        Error(
            "The Celery beat schedule has no 'dispatch-due-digests' entry running "
            f"{DISPATCHER_TASK}: scheduled digests would never be sent.",
            hint="Restore the entry in newsletter/celery.py (app.conf.beat_schedule).",
            id="digests.E001",
        )
    ]


def _provider_problem(provider: str) -> str | None:
    """Why anymail cannot send through, or take webhooks from, ``provider`` as installed and configured."""
    import importlib

    from anymail import urls as anymail_urls
    from django.core.exceptions import ImproperlyConfigured

    try:
        importlib.import_module(f"anymail.backends.{provider}")
        for pattern in anymail_urls.urlpatterns:
            if pattern.name == f"{provider}_tracking_webhook":
                pattern.callback.view_class()  # reads the provider's webhook settings, as each request will
    except (ImproperlyConfigured, ImportError) as exc:
        return " ".join(str(exc).split())
    return None


@register(Tags.compatibility)
def check_mail_providers(app_configs, **kwargs):
    """A configured provider that lacks its package (boto3 for Amazon SES) or a webhook setting fails here, not per request."""
    providers = {c["provider"] for c in settings.MAIL_CONNECTIONS.values() if c.get("provider")}
    providers |= set(getattr(settings, "WEBHOOK_PROVIDERS", ()))
    errors = []
    for provider in sorted(providers):
        problem = _provider_problem(provider)
        if problem:
            errors.append(
                Error(
                    f"The mail provider {provider!r} cannot be used: {problem}",
                    hint='Install the extra the message names (pip install ".[amazon-ses]" or ".[resend]"; '
                    "MAIL_EXTRAS=amazon-ses for the Docker image) and set the provider's ANYMAIL_* keys; "
                    'README "Connecting a mail provider".',
                    id="digests.E002",
                )
            )
    return errors
