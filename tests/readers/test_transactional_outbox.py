"""The transactional outbox: an email a reader is owed survives a broker or mail-server outage and goes out once."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from digests.models import Subscriber, TransactionalEmail
from digests.readers.outbox import transactional_emails_due
from digests.readers.transactional import (
    transactional_email_send,
    transactional_emails_send_due,
    transactional_emails_send_owed,
)
from newsletter.env import email_url_parse
from tests.helpers.services import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
T = TransactionalEmail.Status


def _signup(client, capture, address="late@example.com", categories=()):
    with capture(execute=True):
        return client.post("/subscribe/", {"email": address, "categories": [c.pk for c in categories]}, HTTP_ACCEPT_LANGUAGE="en")


def _after_the_grace_period():
    TransactionalEmail.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(seconds=1))


def test_a_signup_during_a_broker_outage_answers_the_normal_page_and_housekeeping_sends_it_later(
    client, django_capture_on_commit_callbacks, categories, broker_down, caplog
):
    response = _signup(client, django_capture_on_commit_callbacks, categories=categories[:1])
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    reader = Subscriber.objects.get(email="late@example.com")
    owed = TransactionalEmail.objects.get(subscriber=reader)
    assert (owed.kind, owed.status, owed.sent_at) == ("confirmation", T.OWED, None)
    assert mail.outbox == []
    assert "broker unavailable" in caplog.text

    # Signing up again within the hour owes nothing more, and still answers the normal page.
    again = _signup(client, django_capture_on_commit_callbacks, categories=categories[:1])
    assert again.status_code == 200 and TransactionalEmail.objects.count() == 1

    # Housekeeping while the broker is still down: nothing lost, nothing raised.
    _after_the_grace_period()
    assert transactional_emails_send_owed() == 0
    assert TransactionalEmail.objects.get().status == T.OWED

    # Operators see it: /metrics and /healthz count what is owed past its grace period.
    TransactionalEmail.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=2))
    assert "newsletter_transactional_emails_owed 1.0" in client.get("/metrics").content.decode()
    assert client.get("/healthz").json()["transactional_emails_owed"] == 1


def test_housekeeping_sends_what_is_owed_once_the_broker_is_back_and_only_once(
    client, django_capture_on_commit_callbacks, categories, broker_down, request
):
    addresses = ["late@example.com", "later@example.com", "latest@example.com"]
    for address in addresses:
        _signup(client, django_capture_on_commit_callbacks, address=address, categories=categories[:1])
    assert transactional_emails_send_owed() == 0  # within the grace period its own hand-over is trusted
    request.getfixturevalue("eager_celery")  # the broker is back (tasks run here)
    _after_the_grace_period()
    with django_capture_on_commit_callbacks(execute=True):
        assert transactional_emails_send_owed() == 3
    assert sorted(m.to[0] for m in mail.outbox) == sorted(addresses)
    for owed in TransactionalEmail.objects.all():
        assert owed.status == T.SENT and owed.sent_at is not None and owed.attempts == 1
    assert transactional_emails_send_owed() == 0
    assert all(transactional_email_send(owed.pk) == "not-owed" for owed in TransactionalEmail.objects.all())
    assert len(mail.outbox) == 3


def test_an_owed_email_is_stamped_sent_only_when_the_mail_server_accepted_it(client, on_commit, categories, settings):
    dead_server = email_url_parse("TRANSACTIONAL_EMAIL_URL", f"smtp://127.0.0.1:{free_port()}?timeout=1")
    settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "transactional": dead_server}
    on_commit(client.post, "/subscribe/", {"email": "wait@example.com", "categories": [categories[0].pk]})
    owed = TransactionalEmail.objects.get()
    assert owed.status == T.OWED and owed.attempts == 1 and "ConnectionRefusedError" in owed.last_error
    assert owed.next_attempt_at > timezone.now()  # backs off, housekeeping tries again later
    assert transactional_emails_due() == []

    settings.MAIL_CONNECTIONS = {
        **settings.MAIL_CONNECTIONS,
        "transactional": {"backend": "django.core.mail.backends.locmem.EmailBackend"},
    }
    _after_the_grace_period()
    on_commit(transactional_emails_send_owed)
    assert TransactionalEmail.objects.get().status == T.SENT and [m.to for m in mail.outbox] == [["wait@example.com"]]


def test_a_mail_server_that_is_down_costs_one_attempt_not_one_per_reader(client, categories, settings):
    for address in ("d1@example.com", "d2@example.com", "d3@example.com"):
        client.post("/subscribe/", {"email": address, "categories": [categories[0].pk]})
    dead_server = email_url_parse("TRANSACTIONAL_EMAIL_URL", f"smtp://127.0.0.1:{free_port()}?timeout=1")
    settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "transactional": dead_server}

    assert transactional_emails_send_due() == 0

    tried, *rest = TransactionalEmail.objects.order_by("pk")
    assert tried.attempts == 1 and "ConnectionRefusedError" in tried.last_error and tried.next_attempt_at > timezone.now()
    # The others are let go untried: the next task (the next signup's) or housekeeping takes them.
    assert [(o.status, o.attempts, o.claimed_until) for o in rest] == [(T.OWED, 0, None)] * 2
    settings.MAIL_CONNECTIONS = {
        **settings.MAIL_CONNECTIONS,
        "transactional": {"backend": "django.core.mail.backends.locmem.EmailBackend"},
    }
    assert transactional_emails_send_due() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["d2@example.com", "d3@example.com"]


def test_an_email_no_longer_wanted_is_dropped_not_sent(client, categories):
    client.post("/subscribe/", {"email": "quick@example.com", "categories": [categories[0].pk]})
    Subscriber.objects.filter(email="quick@example.com").update(status="active")
    owed = TransactionalEmail.objects.get()
    assert transactional_email_send(owed.pk) == T.DROPPED
    assert mail.outbox == []


def test_housekeeping_runs_every_minute_on_the_housekeeping_queue():
    from newsletter.celery import app

    entries = [e for e in app.conf.beat_schedule.values() if e["task"] == "digests.tasks.transactional_emails_send_owed"]
    assert len(entries) == 1 and entries[0]["schedule"] <= 60
    assert app.amqp.router.route({}, "digests.tasks.transactional_emails_send_owed")["queue"].name == "housekeeping"
    assert app.amqp.router.route({}, "digests.tasks.send_transactional_email")["queue"].name == "transactional"
    assert app.amqp.router.route({}, "digests.tasks.send_transactional_due")["queue"].name == "transactional"
