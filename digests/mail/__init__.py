"""Mail connections by purpose: ``bulk`` for digests, ``transactional`` for the rest."""

from django.conf import settings
from django.core.mail import get_connection


def mail_connection(purpose: str, **overrides):
    """Open (lazily) the connection configured for ``purpose`` by EMAIL_URL / TRANSACTIONAL_EMAIL_URL."""
    options = {k: v for k, v in settings.MAIL_CONNECTIONS[purpose].items() if k != "provider"}
    options.update(overrides)
    return get_connection(options.pop("backend"), **options)
