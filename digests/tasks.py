"""Thin Celery tasks: ids in, one service call, retries declared here."""

from anymail.exceptions import AnymailAPIError
from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

BEAT_TICK_KEY = "beat:last-tick"


@shared_task(ignore_result=True)
def dispatch_due_digests():
    """Every minute (beat): record the tick and start every digest whose time has come."""
    cache.set(BEAT_TICK_KEY, timezone.now().isoformat(), timeout=None)
    from digests.delivery.schedule import digests_dispatch_due

    digests_dispatch_due()


@shared_task(ignore_result=True)
def sweep_stuck_deliveries():
    from digests.delivery.ledger import deliveries_sweep_stuck

    deliveries_sweep_stuck()


@shared_task(
    ignore_result=True,
    # SMTP and network errors (smtplib.SMTPException is an OSError) and provider API errors.
    autoretry_for=(OSError, AnymailAPIError),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=8,
)
def send_transactional_confirmation(subscriber_id: int):
    """Send a pending reader their double opt-in email (transactional queue)."""
    from digests.readers.confirmation import confirmation_send

    confirmation_send(subscriber_id)


from django.db import OperationalError as DatabaseUnavailable  # noqa: E402  (kept with the task that uses it)


@shared_task(ignore_result=True, autoretry_for=(DatabaseUnavailable,), retry_backoff=True, max_retries=5)
def process_delivery_event(event_pk: int):
    """Apply the suppression rules to one stored webhook event (queued by the receiver)."""
    from digests.feedback.suppression import delivery_event_process_by_pk

    delivery_event_process_by_pk(event_pk)
