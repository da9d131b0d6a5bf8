"""Every digest email, parsed from the raw bytes a real SMTP server received."""

import re

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
    return smtp_bulk.parsed()


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
    """The HTML part on the wire (quoted-printable) is what Gmail's clipping counts."""
    from digests.rendering.inline import variant_inlined
    from digests.rendering.size import email_html_sent_size

    _, parsed, raw = next((r, m, raw) for r, m, raw in received if r == ["li@example.org"])
    html_part = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    on_the_wire = len(html_part.get_payload(decode=False).encode())
    assert on_the_wire < 60_000
    estimate = email_html_sent_size(variant_inlined(seed_digest, None))
    assert abs(on_the_wire - estimate) / on_the_wire < 0.05
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
