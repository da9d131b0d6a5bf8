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


# --- Delivery (routed to the bulk queue) -------------------------------------------------------
# The hard time limit stays well inside the lease: when the sweeper finds a
# claim older than DELIVERY_LEASE_SECONDS without a journal, the task that made
# it has certainly ended, so no provider call for it can still be in flight.
from django.conf import settings as _settings  # noqa: E402

BATCH_TIME_LIMIT = max(10, int(_settings.DELIVERY_LEASE_SECONDS * 0.8))


@shared_task(ignore_result=True, soft_time_limit=BATCH_TIME_LIMIT - 5, time_limit=BATCH_TIME_LIMIT)
def deliveries_send_batch(digest_id: int):
    """Send one batch of a digest; continue with the next while due deliveries remain."""
    from digests.delivery.batch import batch_size, deliveries_send_batch as send_batch
    from digests.delivery.schedule import digest_finish, lanes_heartbeat

    lanes_heartbeat(digest_id, alive=True)
    report = send_batch(digest_id)
    _note_premailer_calls()
    if report.claimed >= batch_size():
        deliveries_send_batch.delay(digest_id)
        return
    lanes_heartbeat(digest_id, alive=False)
    if report.retry_at:
        delay = max(1.0, (report.retry_at - timezone.now()).total_seconds())
        deliveries_send_batch.apply_async((digest_id,), countdown=delay)
    digest_finish(digest_id)


@shared_task(ignore_result=True)
def send_transactional_digest_test(digest_id: int, category_ids: list[int] | None, language: str, address: str):
    """A test copy of one variant to a staff member's own address."""
    from digests.delivery.testsend import digest_send_test

    digest_send_test(digest_id, category_ids=category_ids, language=language, address=address)


def _note_premailer_calls():
    """Publish this process's premailer call count (bench_send and operators read it)."""
    import os

    from digests.rendering.inline import premailer_calls

    cache.set(f"delivery:premailer-calls:{os.getpid()}", premailer_calls(), timeout=3600)
