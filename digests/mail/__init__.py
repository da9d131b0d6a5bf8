"""Mail connections by purpose: ``bulk`` for digests, ``transactional`` for the rest."""

from django.conf import settings
from django.core.mail import get_connection


def mail_connection(purpose: str, **overrides):
    """Open (lazily) the connection configured for ``purpose`` by EMAIL_URL / TRANSACTIONAL_EMAIL_URL."""
    options = {k: v for k, v in settings.MAIL_CONNECTIONS[purpose].items() if k != "provider"}
    options.update(overrides)
    return get_connection(options.pop("backend"), **options)


def transactional_render(name: str, *, language: str, context: dict) -> tuple[str, str, str]:
    """The subject (one line), text and HTML of ``emails/<name>-subject.txt``, ``<name>.txt`` and
    ``<name>.html`` rendered with ``context`` in ``language``."""
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override(language):
        subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
        text = render_to_string(f"emails/{name}.txt", context)
        html = render_to_string(f"emails/{name}.html", context)
    return subject, text, html


def transactional_message_of(*, subject: str, text: str, html: str, to: str):
    """A transactional email of these parts: from DEFAULT_FROM_EMAIL, marked as automatic, with its own Message-ID."""
    from email.utils import make_msgid, parseaddr

    from django.core.mail import EmailMultiAlternatives

    from_domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or None
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[settings.REPLY_TO_EMAIL] if settings.REPLY_TO_EMAIL else None,
        headers={"Auto-Submitted": "auto-generated", "Message-ID": make_msgid(domain=from_domain)},
    )
    message.attach_alternative(html, "text/html")
    return message


def transactional_message(name: str, *, to: str, language: str, context: dict, html_filter=None):
    """One transactional email: ``emails/<name>-subject.txt``, ``<name>.txt`` and ``<name>.html``
    rendered in ``language``, from DEFAULT_FROM_EMAIL, marked as automatic, with its own Message-ID."""
    subject, text, html = transactional_render(name, language=language, context=context)
    if html_filter is not None:
        html = html_filter(html)
    return transactional_message_of(subject=subject, text=text, html=html, to=to)
