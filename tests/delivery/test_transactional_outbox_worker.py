"""The transactional outbox through a real broker outage, a real Celery worker and a real SMTP server."""

import datetime

import pytest
from django.utils import timezone

from digests.models import Subscriber, TransactionalEmail
from digests.readers.transactional import transactional_emails_send_owed
from tests.helpers.services import needs_services, wait_for

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]


def test_a_confirmation_owed_during_a_broker_outage_reaches_the_reader_once_the_broker_is_back(
    client, categories, smtp_server, worker, broker_down
):
    # (``worker`` before ``broker_down``: the worker is given the real broker, the web side the dead one.)
    response = client.post("/subscribe/", {"email": "outage@example.com", "categories": [categories[0].pk]})
    assert response.status_code == 200
    owed = TransactionalEmail.objects.get(subscriber__email="outage@example.com")
    assert owed.status == "owed" and smtp_server.count() == 0

    broker_down.end()
    worker().start()
    TransactionalEmail.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))
    assert transactional_emails_send_owed() == 1

    assert wait_for(lambda: TransactionalEmail.objects.get(pk=owed.pk).status == "sent", timeout=60, interval=0.3)
    assert smtp_server.by_recipient() == {"outage@example.com": 1}
    (_, message, _), *_ = smtp_server.parsed()
    assert "/confirm/" in message.get_body(("plain",)).get_content()
    assert Subscriber.objects.get(email="outage@example.com").status == "pending"


def sign_up(client, addresses, categories) -> None:
    for address in addresses:
        response = client.post("/subscribe/", {"email": address, "categories": [categories[0].pk]})
        assert response.status_code == 200


def test_a_burst_of_signups_queues_one_task_that_sends_every_confirmation_over_one_connection(
    client, categories, smtp_server, worker
):
    import redis
    from django.conf import settings

    addresses = [f"burst{i}@example.com" for i in range(6)]
    sign_up(client, addresses, categories)
    assert redis.Redis.from_url(settings.CELERY_BROKER_URL).llen("transactional") == 1

    worker().start()

    assert wait_for(lambda: smtp_server.count() == len(addresses), timeout=60, interval=0.3)
    assert smtp_server.by_recipient() == dict.fromkeys(addresses, 1) and smtp_server.sessions == 1
    assert wait_for(lambda: set(TransactionalEmail.objects.values_list("status", flat=True)) == {"sent"}, timeout=10)
    sign_up(client, ["later@example.com"], categories)  # the task has started: what is owed now queues the next
    assert wait_for(lambda: smtp_server.by_recipient()["later@example.com"] == 1, timeout=30, interval=0.3)


def test_a_worker_killed_while_sending_what_is_due_leaves_only_its_message_in_flight_unsure(
    client, categories, smtp_server, worker
):
    addresses = [f"kill{i}@example.com" for i in range(5)]
    smtp_server.stall_after = 2  # the third message is received but never answered
    sign_up(client, addresses, categories)
    first = worker()
    first.start()
    assert wait_for(lambda: smtp_server.stalled == [addresses[2]], timeout=60, interval=0.2)
    first.kill()

    by_status = dict(TransactionalEmail.objects.values_list("subscriber__email", "status"))
    assert [by_status[a] for a in addresses] == ["sent", "sent", "owed", "owed", "owed"]
    # The lease of the killed worker's claim runs out; housekeeping hands the rest over.
    smtp_server.stall_after = None
    past = timezone.now() - datetime.timedelta(seconds=1)
    TransactionalEmail.objects.filter(status="owed").update(claimed_until=past, next_attempt_at=past)
    worker().start()
    assert transactional_emails_send_owed() == 3

    assert wait_for(lambda: TransactionalEmail.objects.filter(status="sent").count() == 5, timeout=60, interval=0.3)
    # The message in flight when the worker died is the documented ambiguous case; nothing else repeats.
    assert smtp_server.by_recipient() == {**dict.fromkeys(addresses, 1), addresses[2]: 2}
