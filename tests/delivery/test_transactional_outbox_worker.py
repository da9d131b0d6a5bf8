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
