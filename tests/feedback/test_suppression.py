"""Suppression: bounces, complaints and provider unsubscribes take readers off the list by themselves."""

import datetime

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory
from django.utils import timezone

from digests.admin.feedback import lift_bounce_suppression, suppression_summary
from digests.feedback.suppression import delivery_event_process_by_pk
from digests.models import Delivery, DeliveryEvent, Subscriber
from tests.helpers.deliveries import make_delivery
from tests.helpers.readers import make_reader
from tests.helpers.webhooks import (
    MAILGUN_URL,
    POSTMARK_URL,
    mailgun_event,
    mailgun_signed,
    postmark_bounce,
    postmark_complaint,
    postmark_delivery,
    postmark_unsubscribe,
)

# These tests read English messages; the default language's translations must not change them.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
S = Subscriber.Status


def _reload(obj):
    obj.refresh_from_db()
    return obj


def test_a_hard_bounce_suppresses_the_reader_at_once_and_withdraws_their_pending_deliveries(post_webhook, sent):
    bounced, other = sent["readers"][0], sent["readers"][1]
    post_webhook(POSTMARK_URL, postmark_bounce(sent["deliveries"][0]))
    bounced = _reload(bounced)
    assert bounced.status == S.BOUNCED
    assert bounced.suppressed_at is not None
    assert "Hard bounce" in bounced.suppression_reason and "postmark" in bounced.suppression_reason
    assert _reload(sent["pending"][0]).status == Delivery.Status.SUPPRESSED
    # Nobody else is touched; the next send still has everyone else.
    assert _reload(other).status == S.ACTIVE
    assert _reload(sent["pending"][1]).status == Delivery.Status.PENDING
    # The send log keeps what was sent.
    assert _reload(sent["deliveries"][0]).status == Delivery.Status.SENT


def test_a_mailgun_permanent_failure_suppresses_the_reader(post_webhook, sent):
    data = mailgun_event(sent["deliveries"][1], "failed", severity="permanent", reason="bounce")
    post_webhook(MAILGUN_URL, mailgun_signed(data))
    assert _reload(sent["readers"][1]).status == S.BOUNCED
    assert _reload(sent["pending"][1]).status == Delivery.Status.SUPPRESSED


def test_a_rejection_for_an_invalid_address_suppresses_the_reader(post_webhook, sent):
    payload = postmark_bounce(sent["deliveries"][0], type_="BadEmailAddress")
    post_webhook(POSTMARK_URL, payload)
    reader = _reload(sent["readers"][0])
    assert reader.status == S.BOUNCED
    assert "Rejected" in reader.suppression_reason
    assert DeliveryEvent.objects.get().event_type == "rejected"


@pytest.mark.parametrize("provider", ["postmark", "mailgun"])
def test_a_complaint_suppresses_the_reader_as_complained(post_webhook, sent, provider):
    delivery = sent["deliveries"][2]
    if provider == "postmark":
        post_webhook(POSTMARK_URL, postmark_complaint(delivery))
    else:
        post_webhook(MAILGUN_URL, mailgun_signed(mailgun_event(delivery, "complained")))
    reader = _reload(sent["readers"][2])
    assert reader.status == S.COMPLAINED
    assert "complaint" in reader.suppression_reason.lower()
    assert _reload(sent["pending"][2]).status == Delivery.Status.SUPPRESSED


def test_an_unsubscribe_reported_by_the_provider_unsubscribes_the_reader(post_webhook, sent):
    post_webhook(POSTMARK_URL, postmark_unsubscribe(sent["deliveries"][0]))
    reader = _reload(sent["readers"][0])
    assert reader.status == S.UNSUBSCRIBED and reader.unsubscribed_at is not None
    assert _reload(sent["pending"][0]).status == Delivery.Status.CANCELLED


def test_soft_bounces_suppress_only_after_the_limit_in_a_row(post_webhook, sent, settings, seed_digest, next_digest):
    settings.SOFT_BOUNCE_LIMIT = 3
    reader = sent["readers"][0]
    first = sent["deliveries"][0]
    second = make_delivery(next_digest, make_reader("someone-else@example.com", life_cycle=False))  # another reader's mail
    post_webhook(POSTMARK_URL, postmark_bounce(first, type_="SoftBounce", offset=1))
    post_webhook(POSTMARK_URL, postmark_bounce(first, type_="SoftBounce", offset=2))  # same message retried: one
    assert (_reload(reader).status, reader.soft_bounces) == (S.ACTIVE, 1)
    third_digest = next_digest.__class__.objects.create(issue_date=datetime.date(2026, 2, 8), title="AI 行业动态")
    fourth_digest = next_digest.__class__.objects.create(issue_date=datetime.date(2026, 2, 9), title="AI 行业动态")
    Delivery.objects.filter(digest=next_digest, subscriber=reader).update(status=Delivery.Status.SENT, provider_message_id="pm-2")
    d2 = Delivery.objects.get(digest=next_digest, subscriber=reader)
    d3 = make_delivery(third_digest, reader)
    post_webhook(POSTMARK_URL, postmark_bounce(d2, type_="SoftBounce", offset=3))
    assert (_reload(reader).status, reader.soft_bounces) == (S.ACTIVE, 2)
    assert second.subscriber.soft_bounces == 0
    pending = make_delivery(fourth_digest, reader, status=Delivery.Status.PENDING)
    post_webhook(POSTMARK_URL, postmark_bounce(d3, type_="SoftBounce", offset=4))
    reader = _reload(reader)
    assert (reader.status, reader.soft_bounces) == (S.BOUNCED, 3)
    assert "3 soft bounces in a row" in reader.suppression_reason
    assert _reload(pending).status == Delivery.Status.SUPPRESSED


def test_a_delivered_message_resets_the_soft_bounce_count(post_webhook, sent, settings, next_digest):
    settings.SOFT_BOUNCE_LIMIT = 2
    reader = sent["readers"][1]
    post_webhook(POSTMARK_URL, postmark_bounce(sent["deliveries"][1], type_="SoftBounce", offset=-60))
    assert _reload(reader).soft_bounces == 1
    d2 = make_delivery(next_digest.__class__.objects.create(issue_date=datetime.date(2026, 2, 10), title="x"), reader)
    post_webhook(POSTMARK_URL, postmark_delivery(d2, offset=-30))
    assert _reload(reader).soft_bounces == 0
    d3 = make_delivery(next_digest.__class__.objects.create(issue_date=datetime.date(2026, 2, 11), title="y"), reader)
    post_webhook(POSTMARK_URL, postmark_bounce(d3, type_="SoftBounce", offset=0))
    reader = _reload(reader)
    assert (reader.status, reader.soft_bounces) == (S.ACTIVE, 1)


def test_the_streak_follows_when_events_happened_not_when_they_arrived(post_webhook, sent, settings, next_digest):
    settings.SOFT_BOUNCE_LIMIT = 2
    reader = sent["readers"][2]
    d2 = make_delivery(next_digest.__class__.objects.create(issue_date=datetime.date(2026, 2, 12), title="z"), reader)
    # Arrival order: delivered (t-60), then a late soft bounce from before it (t-120), then a new one (t).
    post_webhook(POSTMARK_URL, postmark_delivery(sent["deliveries"][2], offset=-60))
    post_webhook(POSTMARK_URL, postmark_bounce(sent["deliveries"][2], type_="SoftBounce", offset=-120))
    post_webhook(POSTMARK_URL, postmark_bounce(d2, type_="SoftBounce", offset=0))
    reader = _reload(reader)
    assert (reader.status, reader.soft_bounces) == (S.ACTIVE, 1)


def test_a_late_delivery_report_recounts_but_does_not_resurrect_a_suppressed_reader(post_webhook, sent, settings, next_digest):
    settings.SOFT_BOUNCE_LIMIT = 2
    reader = sent["readers"][2]
    d2 = make_delivery(next_digest.__class__.objects.create(issue_date=datetime.date(2026, 2, 12), title="z"), reader)
    post_webhook(POSTMARK_URL, postmark_bounce(sent["deliveries"][2], type_="SoftBounce", offset=-120))
    delivered_between = postmark_delivery(sent["deliveries"][2], offset=-60)
    post_webhook(POSTMARK_URL, postmark_bounce(d2, type_="SoftBounce", offset=0))
    assert _reload(reader).status == S.BOUNCED  # two in a row, as far as we knew
    post_webhook(POSTMARK_URL, delivered_between)
    reader = _reload(reader)
    assert (reader.status, reader.soft_bounces) == (S.BOUNCED, 1)  # only an admin lifts it


def test_a_bounce_does_not_overwrite_a_complaint(post_webhook, sent):
    post_webhook(POSTMARK_URL, postmark_complaint(sent["deliveries"][0]))
    post_webhook(POSTMARK_URL, postmark_bounce(sent["deliveries"][0]))
    assert _reload(sent["readers"][0]).status == S.COMPLAINED


def test_processing_is_idempotent_and_survives_a_deleted_row(post_webhook, sent):
    post_webhook(POSTMARK_URL, postmark_bounce(sent["deliveries"][0]))
    event = DeliveryEvent.objects.get()
    assert delivery_event_process_by_pk(event.pk) == "unchanged"
    assert delivery_event_process_by_pk(event.pk + 1000) == "missing"


def _admin_request(user):
    request = RequestFactory().post("/admin/digests/subscriber/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_an_admin_can_lift_a_bounce_but_not_a_complaint(post_webhook, sent, django_user_model):
    bounced, complained = sent["readers"][0], sent["readers"][1]
    post_webhook(POSTMARK_URL, postmark_bounce(sent["deliveries"][0]))
    post_webhook(POSTMARK_URL, postmark_complaint(sent["deliveries"][1]))
    assert "Hard bounce" in suppression_summary(_reload(bounced))
    admin_user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    model_admin = admin.ModelAdmin(Subscriber, admin.site)
    request = _admin_request(admin_user)

    lift_bounce_suppression(model_admin, request, Subscriber.objects.filter(pk__in=[bounced.pk, complained.pk]))

    bounced, complained = _reload(bounced), _reload(complained)
    assert (bounced.status, bounced.suppressed_at, bounced.suppression_reason, bounced.soft_bounces) == (S.ACTIVE, None, "", 0)
    assert complained.status == S.COMPLAINED
    notes = [str(m) for m in request._messages]
    assert any("only the reader can opt in again" in n for n in notes)
    assert LogEntry.objects.filter(object_id=str(bounced.pk)).exists()
    # A replay of the old bounce does not suppress the reader the admin just lifted.
    assert delivery_event_process_by_pk(DeliveryEvent.objects.get(event_type="bounced").pk) == "recorded"
    assert _reload(bounced).status == S.ACTIVE


def test_suppression_summary_is_empty_for_a_reader_in_good_standing(sent):
    assert suppression_summary(sent["readers"][0]) == "—"


def test_an_event_older_than_the_readers_confirmation_does_not_suppress(post_webhook, sent):
    reader = sent["readers"][0]
    Subscriber.objects.filter(pk=reader.pk).update(confirmed_at=timezone.now() + datetime.timedelta(minutes=5))
    post_webhook(POSTMARK_URL, postmark_bounce(sent["deliveries"][0]))
    assert _reload(reader).status == S.ACTIVE
