"""A reader suppressed by a hard bounce gets nothing in the next digest (feedback → delivery)."""

import pytest
from django.core import mail

from digests.content.digest_format import digest_parse
from digests.content.services import digest_import
from digests.delivery.batch import deliveries_send_batch
from digests.delivery.schedule import digest_start
from digests.models import Delivery, Subscriber
from tests.helpers.webhooks import POSTMARK_URL, postmark_bounce

pytestmark = pytest.mark.django_db


def test_a_hard_bounced_reader_gets_no_delivery_and_no_email_in_the_next_send(post_webhook, sent, seed_bytes):
    bounced = sent["deliveries"][0]
    assert post_webhook(POSTMARK_URL, postmark_bounce(bounced)).status_code == 200
    assert Subscriber.objects.get(pk=bounced.subscriber_id).status != Subscriber.Status.ACTIVE

    later = digest_import(digest_parse(seed_bytes.replace(b"2026-02-06", b"2026-02-08")))
    mail.outbox.clear()
    digest_start(later, immediate=True, allow_stale=True)
    while deliveries_send_batch(later.pk).claimed:
        pass

    address = bounced.subscriber.email
    assert not Delivery.objects.filter(digest=later, subscriber_id=bounced.subscriber_id).exclude(status="skipped").exists()
    recipients = [to for message in mail.outbox for to in message.to]
    assert address not in recipients
    assert sorted(recipients) == sorted(r.email for r in sent["readers"][1:])
