"""Provider webhooks: authenticated, stored once per provider event, matched to the delivery."""

import json
import logging

import pytest

from digests.models import Delivery, DeliveryEvent, Subscriber
from tests.helpers.webhooks import (
    MAILGUN_URL,
    POSTMARK_URL,
    SECRETS,
    basic_auth,
    mailgun_event,
    mailgun_signed,
    postmark_bounce,
    postmark_click,
    postmark_delivery,
    postmark_open,
)

pytestmark = pytest.mark.django_db


def _nothing_changed(sent):
    assert DeliveryEvent.objects.count() == 0
    assert all(r.status == Subscriber.Status.ACTIVE for r in Subscriber.objects.all())
    assert set(Delivery.objects.filter(digest=sent["pending"][0].digest).values_list("status", flat=True)) == {"pending"}


def test_a_postmark_hard_bounce_is_stored_against_its_delivery(post_webhook, sent):
    delivery = sent["deliveries"][0]
    response = post_webhook(POSTMARK_URL, postmark_bounce(delivery, id_=4323372036854775807))
    assert response.status_code == 200
    event = DeliveryEvent.objects.get()
    assert (event.delivery, event.subscriber, event.provider) == (delivery, delivery.subscriber, "postmark")
    assert (event.event_type, event.bounce_type, event.event_id) == ("bounced", "hard", "4323372036854775807")
    assert "unable to deliver" in event.description
    assert event.payload["esp_event"]["Type"] == "HardBounce"


@pytest.mark.parametrize(
    "auth", [{}, basic_auth("webhook:wrong"), basic_auth("nobody:current-secret")], ids=["none", "wrong-password", "wrong-user"]
)
def test_postmark_webhooks_without_valid_basic_auth_are_refused_and_change_nothing(post_webhook, sent, auth):
    response = post_webhook(POSTMARK_URL, postmark_bounce(sent["deliveries"][0]), auth=auth)
    assert response.status_code == 400
    _nothing_changed(sent)


@pytest.mark.parametrize("secret", SECRETS, ids=["old", "current"])
def test_every_configured_secret_is_accepted_so_secrets_can_be_rotated(post_webhook, sent, secret):
    response = post_webhook(POSTMARK_URL, postmark_delivery(sent["deliveries"][0]), auth=basic_auth(secret))
    assert response.status_code == 200
    assert DeliveryEvent.objects.filter(event_type="delivered").count() == 1


def test_a_signed_mailgun_permanent_failure_is_stored_as_a_hard_bounce(post_webhook, sent):
    delivery = sent["deliveries"][1]
    data = mailgun_event(
        delivery,
        "failed",
        severity="permanent",
        reason="bounce",
        **{"delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist", "description": ""}},
    )
    response = post_webhook(MAILGUN_URL, mailgun_signed(data))
    assert response.status_code == 200
    event = DeliveryEvent.objects.get()
    assert (event.delivery, event.provider, event.event_type, event.bounce_type) == (delivery, "mailgun", "bounced", "hard")
    assert "does not exist" in event.description


def test_mailgun_webhooks_with_a_bad_signature_are_refused_and_change_nothing(post_webhook, sent):
    data = mailgun_event(sent["deliveries"][0], "complained")
    response = post_webhook(MAILGUN_URL, mailgun_signed(data, key="not-the-signing-key"))
    assert response.status_code == 400
    _nothing_changed(sent)


def test_mailgun_webhooks_with_a_good_signature_but_no_basic_auth_are_refused(post_webhook, sent):
    response = post_webhook(MAILGUN_URL, mailgun_signed(mailgun_event(sent["deliveries"][0], "complained")), auth={})
    assert response.status_code == 400
    _nothing_changed(sent)


def test_mailgun_webhooks_without_a_signature_are_refused(post_webhook, sent):
    response = post_webhook(MAILGUN_URL, {"event-data": mailgun_event(sent["deliveries"][0], "complained")})
    assert response.status_code == 400
    _nothing_changed(sent)


def test_a_repeated_event_is_stored_once(post_webhook, sent):
    delivery = sent["deliveries"][0]
    bounce = postmark_bounce(delivery, type_="SoftBounce", id_=777)
    delivered = postmark_delivery(delivery)  # Postmark gives deliveries no id: the payload identifies them
    signed = mailgun_signed(mailgun_event(delivery, "opened"), token="a" * 50)
    for _ in range(3):
        assert post_webhook(POSTMARK_URL, bounce).status_code == 200
        assert post_webhook(POSTMARK_URL, delivered).status_code == 200
        assert post_webhook(MAILGUN_URL, signed).status_code == 200
    assert sorted(DeliveryEvent.objects.values_list("provider", "event_type")) == [
        ("mailgun", "opened"),
        ("postmark", "bounced"),
        ("postmark", "delivered"),
    ]


def test_the_same_event_id_from_two_providers_is_two_events(post_webhook, sent):
    delivery = sent["deliveries"][0]
    post_webhook(POSTMARK_URL, postmark_bounce(delivery, type_="SoftBounce", id_=42))
    post_webhook(MAILGUN_URL, mailgun_signed(mailgun_event(delivery, "delivered"), token="42"))
    assert DeliveryEvent.objects.count() == 2


def test_an_event_is_matched_by_the_provider_message_id_when_metadata_is_missing(post_webhook, sent):
    delivery = sent["deliveries"][2]
    post_webhook(POSTMARK_URL, postmark_bounce(delivery, with_metadata=False))
    assert DeliveryEvent.objects.get().delivery == delivery


def test_an_event_for_an_unknown_delivery_is_logged_answered_200_and_changes_nothing(post_webhook, sent, caplog):
    stranger = postmark_bounce(sent["deliveries"][0], with_metadata=False)
    stranger["MessageID"] = "not-one-of-ours"
    stranger["Email"] = sent["readers"][0].email  # even a known address: without our delivery it is not ours
    unknown_id = postmark_bounce(sent["deliveries"][0])
    unknown_id["Metadata"] = {"delivery_id": "999999", "digest_id": "1"}
    unknown_id["MessageID"] = "also-not-ours"
    with caplog.at_level(logging.WARNING, logger="digests.feedback.events"):
        assert post_webhook(POSTMARK_URL, stranger).status_code == 200
        assert post_webhook(POSTMARK_URL, unknown_id).status_code == 200
    assert "no known delivery" in caplog.text
    _nothing_changed(sent)


def test_a_provider_click_is_attributed_to_the_digest_item_with_that_link(post_webhook, sent):
    delivery = sent["deliveries"][0]
    item = sent["digest"].items.exclude(source_url="").first()
    post_webhook(POSTMARK_URL, postmark_click(delivery, item.source_url))
    post_webhook(POSTMARK_URL, postmark_open(delivery))
    click = DeliveryEvent.objects.get(event_type="clicked")
    assert (click.item, click.url) == (item, item.source_url)
    assert DeliveryEvent.objects.filter(event_type="opened", subscriber=delivery.subscriber).exists()


def test_webhook_payloads_keep_chinese_text_intact(post_webhook, sent):
    payload = postmark_bounce(sent["deliveries"][0])
    payload["Description"] = "邮箱不存在"
    post_webhook(POSTMARK_URL, payload)
    event = DeliveryEvent.objects.get()
    assert event.description == "邮箱不存在"
    assert json.dumps(event.payload, ensure_ascii=False).count("AI 行业动态") == 1
