"""A subscriber's status changes in one place, and leaving withdraws pending mail."""

import datetime

import pytest
from django.utils import timezone

from digests.models import Delivery, Digest, Subscriber
from digests.readers.status import SubscriberTransitionError, subscriber_transition

pytestmark = pytest.mark.django_db
S = Subscriber.Status


@pytest.fixture
def reader():
    return Subscriber.objects.create(email="reader@example.com")


def test_confirming_activates_and_stamps(reader):
    assert subscriber_transition(reader, to=S.ACTIVE)
    reader.refresh_from_db()
    assert reader.status == S.ACTIVE and reader.confirmed_at is not None


def test_the_same_move_twice_is_a_no_op(reader):
    subscriber_transition(reader, to=S.UNSUBSCRIBED)
    assert subscriber_transition(reader, to=S.UNSUBSCRIBED) is False


def test_an_unsubscribed_reader_must_confirm_again(reader):
    subscriber_transition(reader, to=S.UNSUBSCRIBED)
    with pytest.raises(SubscriberTransitionError):
        subscriber_transition(reader, to=S.ACTIVE)
    subscriber_transition(reader, to=S.PENDING)
    subscriber_transition(reader, to=S.ACTIVE)


def test_a_complaint_cannot_be_lifted_by_an_admin(reader):
    subscriber_transition(reader, to=S.ACTIVE)
    subscriber_transition(reader, to=S.COMPLAINED, reason="spam report")
    with pytest.raises(SubscriberTransitionError):
        subscriber_transition(reader, to=S.ACTIVE)


def test_leaving_withdraws_pending_deliveries(reader):
    subscriber_transition(reader, to=S.ACTIVE)
    digest = Digest.objects.create(issue_date=datetime.date(2026, 2, 6), title="t")
    other = Digest.objects.create(issue_date=datetime.date(2026, 2, 5), title="t")
    pending = Delivery.objects.create(digest=digest, subscriber=reader, variant="1", not_before=timezone.now())
    sent = Delivery.objects.create(digest=other, subscriber=reader, variant="1", not_before=timezone.now(), status="sent")
    subscriber_transition(reader, to=S.BOUNCED, reason="550 no such user")
    pending.refresh_from_db()
    sent.refresh_from_db()
    assert pending.status == Delivery.Status.SUPPRESSED
    assert sent.status == Delivery.Status.SENT
    reader.refresh_from_db()
    assert reader.suppression_reason == "550 no such user" and reader.suppressed_at
