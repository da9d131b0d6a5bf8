"""Sending what the transactional outbox owes: one function per kind of email, one send path for all.

A new transactional email (a welcome, a data export) is a kind on
``TransactionalEmail``, a function here that builds its message (or None when
it is no longer wanted) and a call to ``transactional_email_owe`` in the
transaction that owes it. Sending, retries and the broker-outage recovery are
then the same for every kind.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable

from anymail.exceptions import AnymailRecipientsRefused
from django.core.mail import EmailMessage

from digests import queue
from digests.mail import mail_connection
from digests.models import Subscriber, TransactionalEmail
from digests.readers.confirmation import confirmation_message
from digests.readers.data_export import data_export_message
from digests.readers.outbox import (
    DUE_TASK_FLAG,
    transactional_email_claim,
    transactional_email_record,
    transactional_emails_claim_due,
    transactional_emails_due,
    transactional_emails_release,
)
from digests.readers.welcome import welcome_owed_message, welcome_sent

log = logging.getLogger(__name__)
K, T = TransactionalEmail.Kind, TransactionalEmail.Status
# Rows claimed at a time by the task that sends what is due, and the most it sends before it ends
# (signups meanwhile have queued the next one).
DUE_CHUNK = 50
DUE_MOST = 1000


def _confirmation(subscriber: Subscriber) -> EmailMessage | None:
    # Confirmed, unsubscribed or bounced meanwhile: the request has no point any more.
    return confirmation_message(subscriber) if subscriber.status == Subscriber.Status.PENDING else None


MESSAGES: dict[str, Callable[[Subscriber], EmailMessage | None]] = {
    K.CONFIRMATION: _confirmation,
    K.WELCOME: welcome_owed_message,
    K.DATA_EXPORT: data_export_message,
}
# What a kind records once the mail server accepted it.
AFTER_SENT: dict[str, Callable[[Subscriber], None]] = {K.WELCOME: welcome_sent}


def _refused_for_good(exc: Exception) -> bool:
    """Whether the mail server refused the recipient permanently (5xx), so retrying cannot help."""
    if isinstance(exc, AnymailRecipientsRefused):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _message in exc.recipients.values())
    return False


def transactional_email_send(pk: int) -> str:
    """Send one owed email if it is still owed and nobody else is sending it; returns the row's status after."""
    owed = transactional_email_claim(pk)
    if owed is None:
        return "not-owed"
    connection = mail_connection("transactional")
    try:
        return _deliver(owed, connection)
    finally:
        connection.close()


def transactional_emails_send_due(*, chunk: int = DUE_CHUNK, most: int = DUE_MOST) -> int:
    """Send what the outbox owes now (up to ``most``), ``chunk`` rows claimed at a time, over one mail connection.

    Each row is stamped as soon as its own message is accepted, as ``transactional_email_send``
    does, so a worker killed mid-way leaves only its message in flight unsure; the rows it
    claimed and never reached wait for their lease, then housekeeping. A temporary failure (the
    server down or refusing for now) ends the task: the rest of the claim is let go for the next
    one or housekeeping, rather than tried reader by reader against a server that is not taking
    mail. Returns how many were sent.
    """
    queue.enqueue_once_started(DUE_TASK_FLAG)
    sent = handled = 0
    connection = mail_connection("transactional")
    try:
        while handled < most:
            claimed = transactional_emails_claim_due(limit=min(chunk, most - handled))
            if not claimed:
                break
            for position, owed in enumerate(claimed):
                status = _deliver(owed, connection)
                if status == T.OWED:
                    transactional_emails_release(claimed[position + 1 :])
                    return sent
                sent += status == T.SENT
            handled += len(claimed)
    finally:
        connection.close()
    return sent


def _deliver(owed: TransactionalEmail, connection) -> str:
    try:
        message = MESSAGES[owed.kind](owed.subscriber)
        if message is None:
            transactional_email_record(owed, status=T.DROPPED)
            return T.DROPPED
        # Opens the connection if it is closed (first message, or after a failure); else reuses it.
        connection.open()
        message.connection = connection
        message.send()
    except Exception as exc:
        connection.close()  # a broken session must not fail the next reader's message
        status = T.FAILED if _refused_for_good(exc) else T.OWED
        transactional_email_record(owed, status=status, error=f"{type(exc).__name__}: {exc}")
        log.warning("transactional email %s (%s) not sent: %s: %s", owed.pk, owed.kind, type(exc).__name__, exc)
        return status
    transactional_email_record(owed, status=T.SENT)
    if owed.kind in AFTER_SENT:
        AFTER_SENT[owed.kind](owed.subscriber)
    return T.SENT


def transactional_emails_send_owed() -> int:
    """Housekeeping: hand every overdue owed email to the transactional queue again; returns how many.

    One ``send_transactional_due`` task takes them all (it claims what is due, oldest first, and sends
    it over one connection), not one task and one SMTP session per email: after a broker outage the
    backlog is a burst like any other. At most ``transactional_emails_due``'s limit (500) are due per
    run, fewer than the task sends before it ends (``DUE_MOST``)."""
    due = transactional_emails_due()
    if not due:
        return 0
    try:
        queue.enqueue(queue.SEND_TRANSACTIONAL_DUE, on_commit=False)
    except Exception as exc:  # still no broker: the rows stay owed for the next run
        log.warning("broker unavailable, %d owed transactional emails wait: %s: %s", len(due), type(exc).__name__, exc)
        return 0
    log.info("handed %d owed transactional emails to the transactional queue", len(due))
    return len(due)
