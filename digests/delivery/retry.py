"""What to do about a failed send: retry later, or give up on that delivery.

Three kinds of failure, told apart by the transport:

* ``outage``: the provider could not be reached or asked us to slow down
  (connection errors, timeouts, SMTP 421 and other 4xx replies to the whole
  transaction, HTTP 5xx and 429, bad credentials). Nothing is wrong with the
  readers, so these deliveries wait and resume however long the outage lasts:
  they never count towards DELIVERY_MAX_ATTEMPTS.
* ``transient``: this one recipient was deferred (SMTP 4xx to RCPT/DATA, a
  provider's temporary per-recipient status). Retried up to DELIVERY_MAX_ATTEMPTS.
* ``permanent``: this recipient was refused (SMTP 5xx, a provider's rejection,
  an address that cannot be sent). The delivery fails with the reason.
"""

from __future__ import annotations

import datetime
import random
import smtplib
import socket
import ssl

from django.conf import settings

OUTAGE, TRANSIENT, PERMANENT = "outage", "transient", "permanent"
MAX_BACKOFF_SECONDS = 3600


def retry_delay(attempts: int, *, base: float | None = None, rng: random.Random | None = None) -> datetime.timedelta:
    """Exponential backoff with jitter: base·2^(attempts-1), capped at an hour, between half and all of it."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS if base is None else base
    ceiling = min(MAX_BACKOFF_SECONDS, base * (2 ** max(0, attempts - 1)))
    jitter = (rng or random).uniform(0.5, 1.0)
    return datetime.timedelta(seconds=ceiling * jitter)


def smtp_error_kind(exc: BaseException) -> str:
    """Classify an exception raised while sending one message over SMTP."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return PERMANENT if codes and all(500 <= code < 600 for code in codes) else TRANSIENT
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return OUTAGE
    if isinstance(exc, smtplib.SMTPSenderRefused):
        # Our own From address refused: a configuration problem, not the reader's.
        return OUTAGE
    if isinstance(exc, smtplib.SMTPResponseException):
        if exc.smtp_code == 421 or exc.smtp_code < 500:
            return OUTAGE if exc.smtp_code == 421 else TRANSIENT
        return PERMANENT
    if isinstance(exc, (socket.timeout, ConnectionError, ssl.SSLError, OSError, smtplib.SMTPException)):
        return OUTAGE
    return OUTAGE


def http_status_kind(status: int | None) -> str:
    """Classify a provider API failure by its HTTP status (None: no response at all)."""
    if status is None or status == 429 or status >= 500:
        return OUTAGE
    if status in (401, 403):
        # Credentials or account trouble: fix the configuration, the mail waits.
        return OUTAGE
    return PERMANENT


def error_text(exc: BaseException, *, limit: int = 1000) -> str:
    """A one-line description of ``exc`` for Delivery.last_error."""
    text = f"{type(exc).__name__}: {exc}".replace("\r", " ").replace("\n", " ")
    return text[:limit]
