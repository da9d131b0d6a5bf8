"""Sending through real django-anymail backends pointed at a local stub of the provider's API."""

import json

import pytest

from digests.bench.provider_stub import ProviderStub
from digests.delivery.batch import deliveries_send_batch
from digests.delivery.schedule import digest_start
from digests.models import Delivery, Subscriber
from newsletter.env import email_url_parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(seed_digest):
    return [Subscriber.objects.create(email=f"reader{i}@example.org", status="active") for i in range(5)]


@pytest.fixture
def mailgun(settings, https_site):
    stub = ProviderStub(lambda request: (200, {"id": "<20260206.batch@newsletter.example.com>", "message": "Queued. Thank you."}))
    settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "bulk": email_url_parse("EMAIL_URL", "anymail://mailgun")}
    settings.ANYMAIL = {"MAILGUN_API_KEY": "key-test", "MAILGUN_API_URL": stub.url + "/v3", "REQUESTS_TIMEOUT": 0.5}
    settings.DELIVERY_RETRY_BASE_SECONDS = 0
    yield stub
    stub.close()


def _postmark_reply(request):
    message = request["fields"]["json"]
    to = message["To"]
    if to.startswith("inactive"):
        return 422, {
            "ErrorCode": 406,
            "Message": f"You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: {to}. "
            "Inactive recipients are ones that have generated a hard bounce or a spam complaint.",
        }
    return 200, {"To": to, "SubmittedAt": "2026-02-06T07:30:00Z", "MessageID": f"pm-{to}", "ErrorCode": 0, "Message": "OK"}


@pytest.fixture
def postmark(settings, https_site):
    stub = ProviderStub(_postmark_reply)
    settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "bulk": email_url_parse("EMAIL_URL", "anymail://postmark")}
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "token-test", "POSTMARK_API_URL": stub.url + "/", "REQUESTS_TIMEOUT": 0.5}
    settings.DELIVERY_RETRY_BASE_SECONDS = 0
    yield stub
    stub.close()


def _send_until_settled(digest, rounds=10):
    reports = []
    for _ in range(rounds):
        if not Delivery.objects.filter(digest=digest, status__in=["pending", "sending"]).exists():
            break
        reports.append(deliveries_send_batch(digest.pk))
    return reports


def test_a_batch_is_one_mailgun_call_with_each_readers_links_headers_and_delivery_id(seed_digest, readers, mailgun):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    _send_until_settled(seed_digest)
    assert len(mailgun.requests) == 1
    fields = mailgun.requests[0]["fields"]
    assert sorted(fields["to"]) == sorted(r.email for r in readers)
    variables = json.loads(fields["recipient-variables"][0])
    deliveries = {d.subscriber.email: d for d in Delivery.objects.filter(digest=seed_digest).select_related("subscriber")}
    for address, values in variables.items():
        delivery = deliveries[address]
        assert values["v:delivery_id"] == str(delivery.pk)
        assert values["unsubscribe_url"].startswith("https://news.example.com/unsubscribe/")
        assert values["h:List-Unsubscribe"] == f"<{values['unsubscribe_url']}>"
        assert values["h:Message-Id"] == delivery.message_id
    # The links need no HTML escaping, so the HTML part uses the same variables (no escaped copies).
    assert "%recipient.unsubscribe_url%" in fields["html"][0] and "_html%" not in fields["html"][0]
    assert not any(key.endswith("_html") for values in variables.values() for key in values)
    assert fields["h:List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
    assert all(d.status == "sent" and d.provider_message_id for d in deliveries.values())


def test_outages_500_429_timeouts_and_resets_are_retried_until_the_send_succeeds(seed_digest, readers, mailgun):
    mailgun.script = [(500, {"message": "oops"}), (429, {"message": "slow down"}), "timeout", "reset"]
    digest_start(seed_digest, immediate=True, allow_stale=True)
    reports = _send_until_settled(seed_digest)
    assert [r.retried for r in reports] == [5, 5, 5, 5, 0]
    assert reports[-1].sent == 5
    assert len(mailgun.requests) == 5
    assert set(Delivery.objects.filter(digest=seed_digest).values_list("status", "attempts")) == {("sent", 5)}


def test_an_outage_never_fails_a_delivery_however_many_attempts_it_takes(seed_digest, readers, mailgun, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    mailgun.script = [(503, {"message": "down"})] * 4
    digest_start(seed_digest, immediate=True, allow_stale=True)
    _send_until_settled(seed_digest)
    assert set(Delivery.objects.filter(digest=seed_digest).values_list("status", "attempts")) == {("sent", 5)}


def test_retries_wait_with_exponential_backoff(seed_digest, readers, mailgun, settings):
    settings.DELIVERY_RETRY_BASE_SECONDS = 30
    mailgun.script = [(500, {"message": "oops"})]
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batch(seed_digest.pk)
    assert report.retried == 5
    assert deliveries_send_batch(seed_digest.pk).claimed == 0  # nobody is due again yet
    waits = [(d.not_before - d.claimed_at).total_seconds() for d in Delivery.objects.filter(digest=seed_digest)]
    assert all(15 <= w <= 30 for w in waits)


def test_rejected_recipients_fail_with_the_providers_reason_and_the_rest_are_sent(seed_digest, readers, postmark):
    Subscriber.objects.create(email="inactive@example.org", status="active")
    digest_start(seed_digest, immediate=True, allow_stale=True)
    _send_until_settled(seed_digest)
    rejected = Delivery.objects.get(subscriber__email="inactive@example.org")
    assert rejected.status == "failed" and "marked as inactive" in rejected.last_error
    sent = Delivery.objects.filter(digest=seed_digest, status="sent")
    assert sent.count() == 5
    assert {d.provider_message_id for d in sent} == {f"pm-{r.email}" for r in readers}
    payloads = [r["fields"]["json"] for r in postmark.requests]
    assert all(p["Metadata"]["delivery_id"] for p in payloads)
    assert all(any(h["Name"] == "List-Unsubscribe" for h in p["Headers"]) for p in payloads)
    assert len({p["HtmlBody"] for p in payloads}) == len(payloads)  # each reader's own links in the body


def test_the_benchmarks_mailgun_stub_counts_every_recipient_of_a_real_batch_call(seed_digest, readers, settings, https_site):
    from digests.bench.provider_stub import MailgunStub

    stub = MailgunStub()
    try:
        settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "bulk": email_url_parse("EMAIL_URL", "anymail://mailgun")}
        settings.ANYMAIL = {"MAILGUN_API_KEY": "key-bench", "MAILGUN_API_URL": stub.url, "REQUESTS_TIMEOUT": 2}
        digest_start(seed_digest, immediate=True, allow_stale=True)
        _send_until_settled(seed_digest)
    finally:
        stub.close()
    assert (stub.requests, stub.recipients) == (1, len(readers))
    assert set(Delivery.objects.filter(digest=seed_digest).values_list("status", "provider_message_id")) == {
        ("sent", "<bench.1@stub.invalid>")
    }
