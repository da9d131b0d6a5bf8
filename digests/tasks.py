"""Thin Celery tasks: ids in, one service call, retries declared here.

Each task is registered under the name ``digests.queue`` gives it; the stages
queue work through that module and never import this one.
"""

import os

from anymail.exceptions import AnymailAPIError
from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError as DatabaseUnavailable

from digests import queue
from digests.content.weekly import weekly_build_due
from digests.delivery.autopilot import digests_hold_unapproved
from digests.delivery.batch import deliveries_send_batches as batches_send
from digests.delivery.schedule import batch_continue, deliveries_recover, digests_dispatch_due, lanes_heartbeat
from digests.delivery.testsend import digest_send_test
from digests.feedback.suppression import delivery_event_process_by_pk
from digests.ops.health import beat_tick
from digests.readers.confirmation import confirmation_send
from digests.readers.imports import subscriber_import_run
from digests.readers.transactional import (
    transactional_email_send,
    transactional_emails_send_due,
    transactional_emails_send_owed,
)
from digests.rendering.inline import premailer_calls
from digests.webhooks.delivery import webhook_deliver as webhook_deliver_attempt
from digests.webhooks.delivery import webhooks_retry_due as webhooks_queue_due

# The hard time limit stays well inside the lease: when the sweeper finds a
# claim older than DELIVERY_LEASE_SECONDS without a journal, the task that made
# it has certainly ended, so no provider call for it can still be in flight.
BATCH_TIME_LIMIT = max(10, int(settings.DELIVERY_LEASE_SECONDS * 0.8))


@shared_task(name=queue.DISPATCH_DUE, ignore_result=True)
def dispatch_due_digests():
    """Every minute (beat): record the tick and start every digest whose time has come."""
    beat_tick()
    digests_hold_unapproved()
    digests_dispatch_due()


@shared_task(name=queue.SWEEP_STUCK, ignore_result=True)
def sweep_stuck_deliveries():
    """Every few seconds (beat): settle abandoned claims from their journals and keep sends moving."""
    deliveries_recover()


@shared_task(
    name=queue.SEND_CONFIRMATION,
    ignore_result=True,
    # SMTP and network errors (smtplib.SMTPException is an OSError) and provider API errors.
    autoretry_for=(OSError, AnymailAPIError),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=8,
)
def send_transactional_confirmation(subscriber_id: int):
    """Tasks queued before the transactional outbox existed: send the double opt-in email directly."""
    confirmation_send(subscriber_id)


@shared_task(name=queue.SEND_TRANSACTIONAL, ignore_result=True)
def send_transactional_email(transactional_email_id: int):
    """Send one email the transactional outbox owes (transactional queue); failures wait for housekeeping."""
    transactional_email_send(transactional_email_id)


@shared_task(name=queue.SEND_TRANSACTIONAL_DUE, ignore_result=True)
def send_transactional_due():
    """Send what the transactional outbox owes now, many emails over one connection (queued once per burst)."""
    transactional_emails_send_due()


@shared_task(name=queue.SEND_OWED_TRANSACTIONAL, ignore_result=True)
def transactional_emails_send_owed_task():
    """Every minute (beat, housekeeping queue): hand over again what the outbox still owes."""
    transactional_emails_send_owed()


@shared_task(
    name=queue.PROCESS_DELIVERY_EVENT,
    ignore_result=True,
    autoretry_for=(DatabaseUnavailable,),
    retry_backoff=True,
    max_retries=5,
)
def process_delivery_event(event_pk: int):
    """Apply the suppression rules to one stored webhook event (queued by the receiver)."""
    delivery_event_process_by_pk(event_pk)


@shared_task(name=queue.SEND_BATCH, ignore_result=True, soft_time_limit=BATCH_TIME_LIMIT - 5, time_limit=BATCH_TIME_LIMIT)
def deliveries_send_batch(digest_id: int):
    """Send batches of a digest back to back for a few seconds; the next task is queued while due
    deliveries remain (bulk queue)."""
    lanes_heartbeat(digest_id, alive=True)
    report = batches_send(digest_id)
    # Published per process: bench_send and operators read how often premailer ran.
    cache.set(f"delivery:premailer-calls:{os.getpid()}", premailer_calls(), timeout=3600)
    batch_continue(digest_id, report)


@shared_task(name=queue.SEND_DIGEST_TEST, ignore_result=True)
def send_transactional_digest_test(digest_id: int, category_ids: list[int] | None, language: str, address: str):
    """A test copy of one variant to a staff member's own address."""
    digest_send_test(digest_id, category_ids=category_ids, language=language, address=address)


@shared_task(name=queue.IMPORT_SUBSCRIBERS, ignore_result=True)
def import_subscribers_file(import_id: int):
    """A large subscriber CSV uploaded in the admin (housekeeping queue)."""
    subscriber_import_run(import_id)


@shared_task(name=queue.WEBHOOK_DELIVER, ignore_result=True, soft_time_limit=60, time_limit=90)
def webhook_deliver(delivery_id: int):
    """One attempt at one outgoing webhook (webhooks queue); a failure queues the next attempt itself."""
    webhook_deliver_attempt(delivery_id)


@shared_task(name=queue.WEBHOOKS_RETRY_DUE, ignore_result=True)
def webhooks_retry_due():
    """Every minute (beat): queue webhook deliveries whose task was lost."""
    webhooks_queue_due()


@shared_task(name=queue.BUILD_WEEKLY_DUE, ignore_result=True)
def build_weekly_due():
    """Every ten minutes (beat): on the weekly build day, after its time, build the week's draft once."""
    weekly_build_due()
