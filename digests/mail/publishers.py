"""Tell the Publisher group something that needs a person: a held digest, a disabled webhook."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage

from digests.mail import mail_connection

PUBLISHER_GROUP = "Publisher"


def publisher_addresses() -> list[str]:
    """The addresses of active users in the Publisher group (superusers are not added)."""
    users = get_user_model().objects.filter(is_active=True, groups__name=PUBLISHER_GROUP).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def publishers_notify(*, subject: str, body: str) -> int:
    """Email every Publisher over the transactional connection; the number of recipients."""
    recipients = publisher_addresses()
    if not recipients:
        return 0
    message = EmailMessage(
        subject=f"[{settings.SITE_NAME}] {subject}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Auto-Submitted": "auto-generated"},
        connection=mail_connection("transactional"),
    )
    message.send()
    return len(recipients)
