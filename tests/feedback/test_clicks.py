"""First-party click and open tracking: redirects only to the item's own link, never anywhere else."""

import datetime
import re
from unittest import mock

import pytest
from django.core import signing
from django.urls import reverse

from digests.links import click_token, reader_links, reader_token
from digests.models import Category, DeliveryEvent, Digest, Item
from digests.rendering.personalise import email_personalise
from digests.rendering.render import variant_render

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def tracking_on(settings):
    settings.TRACK_CLICKS = True
    settings.TRACK_OPENS = True


def _item(digest):
    return digest.items.exclude(source_url="").first()


def _click_url(digest, item, ref=None):
    url = reverse("digests:click", args=[click_token(digest.pk, item.pk)])
    return f"{url}?r={ref}" if ref else url


def test_the_click_url_has_the_shape_the_renderer_writes(seed_digest):
    item = _item(seed_digest)
    token = signing.dumps([seed_digest.pk, item.pk], salt="digests.click")
    assert reverse("digests:click", args=[token]) == f"/r/{token}/"
    assert reverse("digests:open_pixel", args=["REF"]) == "/o/REF.gif"


def test_a_click_redirects_to_the_items_source_and_records_the_reader(client, sent):
    digest, reader, delivery = sent["digest"], sent["readers"][0], sent["deliveries"][0]
    item = _item(digest)
    response = client.get(_click_url(digest, item, reader_token(reader.key, "ref")))
    assert response.status_code == 302
    assert response["Location"] == item.source_url
    assert "no-store" in response["Cache-Control"]
    event = DeliveryEvent.objects.get()
    assert (event.event_type, event.provider, event.item, event.subscriber, event.delivery) == (
        "clicked",
        "first-party",
        item,
        reader,
        delivery,
    )


def test_a_click_without_a_valid_reader_still_redirects_but_records_no_reader(client, seed_digest):
    item = _item(seed_digest)
    for ref in (None, "garbage", "0123456789abcdef0123456789abcdef:1abc:forged"):
        response = client.get(_click_url(seed_digest, item, ref))
        assert (response.status_code, response["Location"]) == (302, item.source_url)
    event = DeliveryEvent.objects.get()  # one anonymous click per client within the repeat window
    assert (event.subscriber, event.delivery, event.item) == (None, None, item)


def test_a_tampered_token_is_a_404(client, seed_digest):
    token = click_token(seed_digest.pk, _item(seed_digest).pk)
    value, signature = token.rsplit(":", 1)
    forged = signing.dumps([seed_digest.pk, _item(seed_digest).pk + 1], salt="digests.click").rsplit(":", 1)[0] + ":" + signature
    for bad in (token[:-2] + "xx", forged, "https:%2F%2Fevil.example", value):
        assert client.get(f"/r/{bad}/").status_code == 404
    assert DeliveryEvent.objects.count() == 0


def test_a_token_signed_for_another_purpose_is_a_404(client, seed_digest):
    token = signing.dumps([seed_digest.pk, _item(seed_digest).pk], salt="digests.reader.ref")
    assert client.get(f"/r/{token}/").status_code == 404


def test_a_token_for_an_unknown_item_is_a_404(client, seed_digest):
    token = signing.dumps([seed_digest.pk, 10**9], salt="digests.click")
    assert client.get(f"/r/{token}/").status_code == 404


def test_a_token_pairing_a_digest_with_another_digests_item_is_a_404(client, seed_digest, next_digest):
    category = Category.objects.first()
    other = Item.objects.create(
        digest=next_digest, category=category, title="t", summary="s", source_url="https://example.org/other"
    )
    token = signing.dumps([seed_digest.pk, other.pk], salt="digests.click")
    assert client.get(f"/r/{token}/").status_code == 404
    assert client.get(f"/r/{click_token(next_digest.pk, other.pk)}/").status_code == 302


def test_an_item_without_an_http_link_is_a_404_never_a_redirect(client, seed_digest):
    item = _item(seed_digest)
    for stored in ("", "javascript:alert(1)", "ftp://example.com/x"):
        Item.objects.filter(pk=item.pk).update(source_url=stored)
        assert client.get(_click_url(seed_digest, item)).status_code == 404


def test_there_is_no_target_parameter_to_abuse(client, seed_digest):
    item = _item(seed_digest)
    response = client.get(_click_url(seed_digest, item) + "?next=https://evil.example&url=https://evil.example")
    assert response["Location"] == item.source_url


def test_with_click_tracking_off_links_still_work_but_nothing_is_recorded(client, seed_digest, settings):
    settings.TRACK_CLICKS = False
    item = _item(seed_digest)
    assert client.get(_click_url(seed_digest, item)).status_code == 302
    assert DeliveryEvent.objects.count() == 0


def test_a_head_request_from_a_link_checker_is_not_a_click(client, seed_digest):
    assert client.head(_click_url(seed_digest, _item(seed_digest))).status_code == 302
    assert DeliveryEvent.objects.count() == 0


def test_the_open_pixel_is_an_uncached_gif_and_records_an_open(client, sent):
    reader, delivery = sent["readers"][0], sent["deliveries"][0]
    response = client.get(f"/o/{reader_token(reader.key, 'ref')}.gif")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a") and len(response.content) == 43
    assert "no-cache" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]
    event = DeliveryEvent.objects.get()
    assert (event.event_type, event.provider, event.subscriber, event.delivery) == ("opened", "first-party", reader, delivery)


def test_an_open_is_attributed_to_the_send_the_reference_was_made_for(client, sent, next_digest):
    reader = sent["readers"][1]
    yesterday_ref = reader_token(reader.key, "ref")
    # Tomorrow's delivery exists (created after the reference was signed); the old email is reopened.
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=10)
    next_delivery = sent["pending"][1]
    type(next_delivery).objects.filter(pk=next_delivery.pk).update(created_at=later, status="sent", sent_at=later)
    client.get(f"/o/{yesterday_ref}.gif")
    assert DeliveryEvent.objects.get().delivery == sent["deliveries"][1]
    with mock.patch("django.core.signing.time.time", return_value=later.timestamp() + 60):
        today_ref = reader_token(reader.key, "ref")
    client.get(f"/o/{today_ref}.gif")
    assert DeliveryEvent.objects.filter(delivery=next_delivery).count() == 1


def test_a_bad_pixel_reference_still_gets_a_gif_but_records_nothing(client, seed_digest):
    response = client.get("/o/READERxREFxPLACEHOLDER.gif")
    assert (response.status_code, response["Content-Type"]) == (200, "image/gif")
    assert DeliveryEvent.objects.count() == 0


def test_with_open_tracking_off_the_pixel_records_nothing(client, sent, settings):
    settings.TRACK_OPENS = False
    client.get(f"/o/{reader_token(sent['readers'][0].key, 'ref')}.gif")
    assert DeliveryEvent.objects.count() == 0


def test_digest_model_is_untouched_by_tracking(client, sent):
    client.get(_click_url(sent["digest"], _item(sent["digest"]), reader_token(sent["readers"][0].key, "ref")))
    assert Digest.objects.get(pk=sent["digest"].pk).status == sent["digest"].status


def test_the_links_in_a_rendered_email_lead_through_tracking_to_the_source(client, sent, settings):
    settings.SITE_URL = "https://news.example.com"
    reader, delivery = sent["readers"][0], sent["deliveries"][0]
    email = email_personalise(variant_render(sent["digest"]), reader_links(reader.key))
    click_path = re.search(r"https://news\.example\.com(/r/[^\s\"<>]+)", email.text).group(1)
    response = client.get(click_path.replace("&amp;", "&"))
    assert response.status_code == 302
    assert response["Location"] in set(sent["digest"].items.values_list("source_url", flat=True))
    pixel_path = re.search(r"https://news\.example\.com(/o/[^\"]+\.gif)", email.html).group(1)
    assert client.get(pixel_path)["Content-Type"] == "image/gif"
    assert sorted(DeliveryEvent.objects.filter(subscriber=reader, delivery=delivery).values_list("event_type", flat=True)) == [
        "clicked",
        "opened",
    ]
