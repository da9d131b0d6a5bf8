"""The Celery app: four queues and a static beat schedule.

When a digest goes out is data on the digest (its scheduled time); beat only
ticks the dispatcher every minute, so no per-digest beat entries exist.
"""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsletter.settings")

app = Celery("newsletter")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("transactional", "bulk", "housekeeping", "webhooks")
# Each queue its own exchange and key: bare Queue(name) would bind all three to
# the default exchange and key, and Redis would copy every task into each queue.
app.conf.task_queues = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES]
app.conf.task_default_queue = "housekeeping"
app.conf.task_routes = {
    "digests.tasks.send_transactional_*": {"queue": "transactional"},
    "digests.tasks.deliveries_*": {"queue": "bulk"},
    # Outgoing webhooks have their own queue: a slow receiver never delays a send.
    "digests.tasks.webhook_deliver": {"queue": "webhooks"},
}

app.conf.beat_schedule = {
    "dispatch-due-digests": {"task": "digests.tasks.dispatch_due_digests", "schedule": 60.0},
    # Often: a dead worker's claim is settled as soon as its journal's deadline
    # passes, and a lost lane is replaced (the tick is two cheap queries when all is well).
    "sweep-stuck-deliveries": {"task": "digests.tasks.sweep_stuck_deliveries", "schedule": 10.0},
    "webhooks-retry-due": {"task": "digests.tasks.webhooks_retry_due", "schedule": 60.0},
    # The transactional outbox: confirmations (and any other transactional email) owed but not sent.
    "send-owed-transactional-emails": {"task": "digests.tasks.transactional_emails_send_owed", "schedule": 60.0},
    # The weekly edition's draft, on WEEKLY_BUILD_DAY after WEEKLY_BUILD_TIME; the task decides, so the
    # settings apply without a beat restart and a beat that was down catches up at its next tick.
    "build-weekly-edition": {"task": "digests.tasks.build_weekly_due", "schedule": 600.0},
}

app.autodiscover_tasks()
