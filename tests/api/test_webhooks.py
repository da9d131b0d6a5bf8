"""Outgoing webhooks: recorded with the change, delivered signed after commit, retried, logged, disabled after a day."""

from __future__ import annotations

import datetime
import socket
import time

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from digests.content.services import digest_transition
from digests.delivery.schedule import digest_start
from digests.feedback.suppression import delivery_event_process
from digests.models import DeliveryEvent, Digest, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from digests.readers.confirmation import subscriber_confirm
from digests.readers.unsubscribe import subscriber_unsubscribe
from digests.webhooks.delivery import MAX_DELAY_SECONDS, retry_delay, webhook_deliver, webhooks_retry_due
from digests.webhooks.events import event_emit
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_confirmation_and_an_unsubscribe_reach_the_receiver_signed(receiver, eager_celery):
    reader = make_reader("reader@example.com", status="pending")
    subscriber_confirm(reader, ip="203.0.113.9", form="confirmation", wording="yes")
    subscriber_unsubscribe(reader)

    assert receiver.types() == ["subscriber.confirmed", "subscriber.unsubscribed"]
    assert not receiver.rejected
    confirmed = receiver.events[0]["data"]
    assert (confirmed["id"], confirmed["email"], confirmed["status"]) == (str(reader.key), "reader@example.com", "active")
    headers = receiver.headers[0]
    assert headers["webhook-id"].startswith("msg_") and headers["webhook-signature"].startswith("v1,")


def test_bounces_and_complaints_reported_by_the_provider_fire_their_events(receiver, eager_celery, seed_digest):
    bounced, complained = make_reader("bounce@example.com"), make_reader("spam@example.com")
    now = timezone.now()
    for reader, kind, bounce in ((bounced, "bounced", "hard"), (complained, "complained", "")):
        event = DeliveryEvent.objects.create(
            subscriber=reader, provider="test", event_id=kind, event_type=kind, bounce_type=bounce, occurred_at=now, payload={}
        )
        delivery_event_process(event)
    assert receiver.types()[-2:] == ["subscriber.bounced", "subscriber.complained"]


def test_an_event_is_delivered_only_if_its_change_commits(receiver, eager_celery):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_reader("rolled-back@example.com")
        raise RuntimeError("the change fails")
    assert receiver.events == [] and not WebhookEvent.objects.exists()


def test_an_endpoint_gets_only_the_event_types_it_chose(receiver, eager_celery, seed_digest):
    WebhookEndpoint.objects.update(event_types=["digest.scheduled"])
    receiver.events.clear()
    make_reader("reader@example.com")
    digest_transition(seed_digest, to=Digest.Status.SCHEDULED)
    assert receiver.types() == ["digest.scheduled"]


def test_a_failed_delivery_is_retried_with_growing_delays_and_every_attempt_is_logged(receiver):
    receiver.answer = 500
    event_emit("digest.created", {"id": 1})
    delivery = WebhookDelivery.objects.get()

    assert webhook_deliver(delivery.pk) == "retry"
    first = WebhookDelivery.objects.get()
    assert first.attempts == 1 and first.next_attempt_at > timezone.now()
    assert webhook_deliver(delivery.pk) == "skipped"  # not due twice: the claim is conditional
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())  # its time has come
    receiver.answer = 204
    assert webhook_deliver(delivery.pk) == "delivered"

    log = list(WebhookAttempt.objects.order_by("attempted_at").values_list("status_code", "ok"))
    assert log == [(500, False), (204, True)]
    assert WebhookEndpoint.objects.get().failing_since is None


def test_the_backoff_doubles_with_jitter_and_is_capped(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    for attempts, base in ((1, 30), (2, 60), (3, 120), (10, MAX_DELAY_SECONDS)):
        delays = {retry_delay(attempts) for _ in range(50)}
        assert all(0.75 * base <= d <= 1.25 * base for d in delays) and len(delays) > 1


def test_retries_stop_24_hours_after_the_event(receiver):
    receiver.answer = 503
    event = event_emit("digest.created", {"id": 1})
    WebhookEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=23, minutes=59, seconds=55)
    )
    assert webhook_deliver(WebhookDelivery.objects.get().pk) == "failed"
    assert WebhookDelivery.objects.get().next_attempt_at is None


def test_an_event_retried_for_a_day_without_any_success_disables_its_endpoint(receiver):
    receiver.answer = 503
    event = event_emit("digest.created", {"id": 1})
    a_day_ago = timezone.now() - datetime.timedelta(hours=23, minutes=59, seconds=55)
    WebhookEvent.objects.filter(pk=event.pk).update(created_at=a_day_ago)
    WebhookEndpoint.objects.update(failing_since=a_day_ago)
    webhook_deliver(WebhookDelivery.objects.get().pk)
    assert not WebhookEndpoint.objects.get().enabled


def test_an_endpoint_failing_for_24_hours_is_disabled_and_the_publishers_are_told(receiver, django_user_model):
    publisher = _publisher(django_user_model)
    receiver.answer = 500
    WebhookEndpoint.objects.update(failing_since=timezone.now() - datetime.timedelta(hours=24, minutes=1))
    event_emit("digest.created", {"id": 1})

    webhook_deliver(WebhookDelivery.objects.get().pk)

    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.enabled and "HTTP 500" in endpoint.disabled_reason
    assert [m.to for m in mail.outbox] == [[publisher.email]] and receiver.url in mail.outbox[0].subject
    event_emit("digest.created", {"id": 2})
    assert WebhookDelivery.objects.count() == 1  # a disabled endpoint gets nothing new


def test_the_sweep_requeues_deliveries_whose_task_was_lost(receiver, eager_celery):
    WebhookEndpoint.objects.update(enabled=True)
    with transaction.atomic():
        event_emit("digest.created", {"id": 1})
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(minutes=5))
        transaction.get_connection().run_on_commit = []  # the broker never got the task
    assert receiver.events == []
    assert webhooks_retry_due() == 1
    assert receiver.types() == ["digest.created"]


def test_event_delivery_never_slows_a_send(db, seed_digest, settings):
    # A receiver that accepts connections and never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(50)
    WebhookEndpoint.objects.create(url=f"http://127.0.0.1:{silent.getsockname()[1]}/", secret="whsec_" + "A" * 32)
    settings.DIGEST_STALE_AFTER_DAYS = 100000
    for i in range(20):
        make_reader(f"reader{i}@example.com")

    started = time.monotonic()
    digest_start(seed_digest, immediate=True)
    elapsed = time.monotonic() - started

    silent.close()
    assert elapsed < settings.WEBHOOK_TIMEOUT_SECONDS
    assert WebhookDelivery.objects.filter(event__event_type="digest.sending", status="pending").count() == 1


def test_send_test_event_from_the_admin(receiver, admin_client):
    response = admin_client.post(
        reverse("admin:digests_webhookendpoint_changelist"),
        {"action": "send_test_event", "_selected_action": [receiver.endpoint.pk]},
        follow=True,
    )
    assert receiver.types() == ["test"]
    assert "204" in response.content.decode()
    attempts = admin_client.get(reverse("admin:digests_webhookattempt_changelist")).content.decode()
    assert receiver.url in attempts


def test_the_admin_accepts_only_http_and_https_urls_and_makes_a_secret(admin_client):
    url = reverse("admin:digests_webhookendpoint_add")
    admin_client.post(url, {"url": "ftp://example.com/hook", "enabled": "on"})
    assert not WebhookEndpoint.objects.exists()
    admin_client.post(url, {"url": "https://example.com/hook", "event_types": ["digest.sent"], "enabled": "on"})
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and endpoint.event_types == ["digest.sent"]


def _publisher(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="publisher", email="publisher@example.com", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="Publisher")[0])
    return user
