"""Every digest email, parsed from the raw bytes a real SMTP server received."""

import re
import time
from email.utils import mktime_tz, parsedate_tz

import pytest

from digests.delivery.batch import deliveries_send_batch
from digests.delivery.schedule import digest_start
from digests.models import Delivery, Subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_readers(seed_digest):
    return [
        Subscriber.objects.create(email="li@example.org", status="active", name="Mallory\r\nBcc: victim@example.org"),
        Subscriber.objects.create(email="wang@bücher.example", status="active", language="en"),
    ]


@pytest.fixture
def received(seed_digest, two_readers, smtp_bulk, https_site):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batch(seed_digest.pk)
    assert report.sent == 2
    # Several SMTP connections send a batch at once, so arrival order is not the readers' order.
    return sorted(smtp_bulk.parsed(), key=lambda received: received[0])


def test_each_reader_gets_one_https_one_click_url_of_their_own(received):
    urls = []
    for _, message, _ in received:
        value = message["List-Unsubscribe"]
        found = re.findall(r"<([^>]+)>", value)
        https = [url for url in found if url.startswith("https://")]
        assert len(https) == 1
        assert re.fullmatch(r"https://news\.example\.com/unsubscribe/[^/]+/", https[0])
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        urls.append(https[0])
    assert len(set(urls)) == 2


def test_the_one_click_url_in_the_header_is_the_one_in_both_bodies(received):
    for _, message, _ in received:
        url = re.search(r"<(https://[^>]+)>", message["List-Unsubscribe"]).group(1)
        assert url in message.get_body(("plain",)).get_content()
        assert url in message.get_body(("html",)).get_content()


def test_list_id_encodes_only_the_phrase(received):
    for _, message, raw in received:
        header = re.search(rb"^List-Id: (.*?)\r\n(?! )", raw, re.M | re.S).group(1)
        assert re.fullmatch(rb"=\?utf-8\?[bq]\?[^?]+\?= <digest\.newsletter\.example\.com>", header)
        assert str(message["List-Id"]) == "AI 行业动态 <digest.newsletter.example.com>"


def test_message_id_is_on_the_sending_domain_and_unique_per_delivery(received, seed_digest):
    ids = {str(message["Message-ID"]) for _, message, _ in received}
    assert len(ids) == 2
    assert all(i.endswith("@newsletter.example.com>") for i in ids)
    assert ids == set(Delivery.objects.filter(digest=seed_digest).values_list("message_id", flat=True))


def test_headers_are_ascii_and_carry_feedback_id_and_auto_submitted(received):
    for _, message, raw in received:
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert head.isascii()
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["Feedback-ID"].endswith(":newsletter.example.com")
        assert str(message["From"]) == "AI 行业动态 <digest@newsletter.example.com>"


def test_nothing_a_reader_typed_reaches_a_header(received):
    for rcpts, message, raw in received:
        assert b"Mallory" not in raw and b"victim" not in raw
        assert str(message["To"]) == rcpts[0]
    assert sorted(r[0] for r, _, _ in received) == ["li@example.org", "wang@xn--bcher-kva.example"]


def test_no_line_is_longer_than_the_smtp_limit_and_bodies_decode_to_utf8(received):
    for _, message, raw in received:
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        parts = [part.get_content_type() for part in message.walk() if not part.is_multipart()]
        assert parts == ["text/plain", "text/html"]
        assert "江苏省" in message.get_body(("html",)).get_content()


def test_the_one_click_url_works_as_a_post(received, client):
    from django.urls import resolve

    url = re.search(r"<(https://[^>]+)>", received[0][1]["List-Unsubscribe"]).group(1)
    path = url.removeprefix("https://news.example.com")
    assert resolve(path).url_name == "unsubscribe"
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    address = received[0][0][0]
    assert Subscriber.objects.get(email__iexact=address).status == Subscriber.Status.UNSUBSCRIBED


def test_the_seed_digest_as_sent_stays_under_the_size_budget_the_check_uses(seed_digest, received):
    """The whole message on the wire (8bit: the test server announces 8BITMIME) is at most 60 KB, and
    the pre-send check's measure is never smaller than the real message."""
    from digests.rendering.inline import variant_inlined
    from digests.rendering.size import email_sent_size

    _, parsed, raw = next((r, m, raw) for r, m, raw in received if r == ["li@example.org"])
    assert len(raw) <= 60_000
    assert {p["Content-Transfer-Encoding"] for p in parsed.walk() if p.get_content_maintype() == "text"} == {"8bit"}
    estimate = email_sent_size(variant_inlined(seed_digest, None))
    assert len(raw) <= estimate < len(raw) + 2500
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


@pytest.fixture
def smtp_without_8bitmime(settings):
    """A real SMTP server that does not announce 8BITMIME (aiosmtpd with decode_data)."""
    from aiosmtpd.controller import Controller

    from newsletter.env import email_url_parse
    from tests.delivery.conftest import Inbox
    from tests.helpers.services import free_port

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), decode_data=True)
    controller.start()
    url = f"smtp://127.0.0.1:{controller.port}?timeout=1"
    settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "bulk": email_url_parse("EMAIL_URL", url)}
    yield inbox
    controller.stop()


def test_a_server_without_8bitmime_gets_the_quoted_printable_copy_with_the_same_content(
    seed_digest, two_readers, smtp_without_8bitmime, https_site
):
    digest_start(seed_digest, immediate=True, allow_stale=True)
    assert deliveries_send_batch(seed_digest.pk).sent == 2
    for _rcpts, message, raw in smtp_without_8bitmime.parsed():
        assert raw.isascii()
        parts = [p for p in message.walk() if p.get_content_maintype() == "text"]
        assert {p["Content-Transfer-Encoding"] for p in parts} == {"quoted-printable"}
        unsubscribe = re.findall(r"<(https://[^>]+)>", message["List-Unsubscribe"])[0]
        assert unsubscribe in parts[0].get_content() and unsubscribe in parts[1].get_content()
        assert "江苏省拟立法促进人工智能产业发展" in parts[1].get_content()


def test_each_batch_is_dated_when_it_goes_though_its_variant_is_serialised_once(seed_digest, smtp_bulk, settings):
    # A variant's bytes are kept for the whole send; the Date header must still be the batch's own.
    settings.DELIVERY_BATCH_SIZE, settings.DELIVERY_SMTP_CONNECTIONS = 1, 1
    for name in ("first", "second"):
        Subscriber.objects.create(email=f"{name}@example.org", status="active")
    digest_start(seed_digest, immediate=True, allow_stale=True)
    window = []
    for _ in range(2):
        before = time.time()
        assert deliveries_send_batch(seed_digest.pk).sent == 1
        window.append((int(before), time.time()))
        time.sleep(1.1)
    dates = [mktime_tz(parsedate_tz(str(message["Date"]))) for _, message, _ in smtp_bulk.parsed()]
    assert len(dates) == 2
    for date, (start, end) in zip(dates, window, strict=True):
        assert start <= date <= end
    assert dates[1] > dates[0]
