"""The Mailgun backend that builds a batch call in bulk sends what anymail's own would, over real HTTP."""

import json
from collections import Counter

import pytest
from anymail.message import AnymailMessage
from django.utils.module_loading import import_string
from urllib3.filepost import encode_multipart_formdata

from digests.bench.provider_stub import ProviderStub
from digests.delivery.batch import deliveries_send_batch
from digests.delivery.schedule import digest_start
from digests.models import Delivery, Subscriber
from newsletter.env import email_url_parse

STOCK = "anymail.backends.mailgun.EmailBackend"
OURS = "digests.mail.mailgun.EmailBackend"

# What readers and operators put in address fields: plain, plus-addressed, dotted, IDN domains
# (Unicode and punycode), Chinese display names, commas and quotes in names, upper case.
ADDRESSES = [
    "reader0@example.org",
    "first.last+digest@mail.example.co.uk",
    "Reader.Upper+X_y-z@EXAMPLE.ORG",
    "leser@bücher.example",
    "leser2@xn--bcher-kva.example",
    "张三 <zhang.san+news@example.cn>",
    '"王, 小明" <wang@example.cn>',
    '"Smith, \\"Jr\\"" <smith@example.com>',
    "O'Brien <obrien@example.ie>",
    "o'brien@example.ie",
    "Ünïcødé Name <uni@bücher.example>",
]


@pytest.fixture
def stub(settings):
    stub = ProviderStub(lambda request: (200, {"id": "<20260206.batch@newsletter.example.com>", "message": "Queued. Thank you."}))
    settings.ANYMAIL = {"MAILGUN_API_KEY": "key-test", "MAILGUN_API_URL": stub.url + "/v3", "REQUESTS_TIMEOUT": 2}
    yield stub
    stub.close()


def _batch_message() -> AnymailMessage:
    message = AnymailMessage(
        subject="AI 行业动态 · 2026-02-06",
        body="你好 %recipient.name%\n退订: %recipient.unsubscribe_url%\n",
        from_email="AI 行业动态 <digest@newsletter.example.com>",
        to=ADDRESSES,
        reply_to=['"编辑部, AI" <editors@newsletter.example.com>'],
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "Feedback-ID": "digest1:zh-hans:digest:x"},
    )
    message.attach_alternative("<p>你好 %recipient.name% &amp; <a href='%recipient.unsubscribe_url%'>退订</a></p>", "text/html")
    keys = [address.rpartition("<")[2].rstrip(">") for address in ADDRESSES]
    message.merge_data = {
        key: {"name": f"读者 {n}", "unsubscribe_url": f"https://news.example.com/u/{n}/"} for n, key in enumerate(keys)
    }
    message.merge_headers = {key: {"Message-ID": f"<m{n}@newsletter.example.com>"} for n, key in enumerate(keys)}
    message.merge_metadata = {key: {"delivery_id": str(n), "digest_id": "1"} for n, key in enumerate(keys)}
    return message


def _sent_through(backend: str, stub) -> dict:
    message = _batch_message()
    import_string(backend)().send_messages([message])
    request = stub.requests[-1]
    return {"request": request, "status": message.anymail_status}


def test_a_batch_call_carries_exactly_the_fields_and_values_anymails_own_backend_sends(stub):
    stock = _sent_through(STOCK, stub)
    ours = _sent_through(OURS, stub)

    assert ours["request"]["path"] == stock["request"]["path"] == "/v3/newsletter.example.com/messages"
    assert ours["request"]["headers"]["Authorization"] == stock["request"]["headers"]["Authorization"]
    assert ours["request"]["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    expected, got = dict(stock["request"]["fields"]), dict(ours["request"]["fields"])
    # The same JSON value, written compactly and without \\u escapes.
    assert json.loads(got.pop("recipient-variables")[0]) == json.loads(expected.pop("recipient-variables")[0])
    assert got == expected
    assert expected["to"][5:9] == [
        "张三 <zhang.san+news@example.cn>",
        '"王, 小明" <wang@example.cn>',
        '"Smith, \\"Jr\\"" <smith@example.com>',
        "O'Brien <obrien@example.ie>",
    ]
    assert expected["to"][3] == "leser@xn--bcher-kva.example"
    # Every recipient gets the same status and provider id as with anymail's backend.
    assert {k: (v.status, v.message_id) for k, v in ours["status"].recipients.items()} == {
        k: (v.status, v.message_id) for k, v in stock["status"].recipients.items()
    }
    assert len(ours["status"].recipients) == len(ADDRESSES)


def test_the_body_is_byte_for_byte_what_requests_makes_of_the_same_fields_as_multipart(stub):
    ours = _sent_through(OURS, stub)["request"]
    boundary = ours["headers"]["Content-Type"].partition("boundary=")[2]
    # The stub read the fields back in the body's order (each name's values together, as we write them).
    fields = [(name, value.encode()) for name, values in ours["fields"].items() for value in values]
    body, content_type = encode_multipart_formdata(fields, boundary=boundary)
    assert ours["body"] == body
    assert ours["headers"]["Content-Type"] == content_type


def test_an_invalid_address_is_refused_as_anymail_refuses_it(stub):
    from anymail.exceptions import AnymailInvalidAddress

    message = _batch_message()
    message.to = ["reader0@example.org", "Unquoted, comma <x@example.org>"]
    with pytest.raises(AnymailInvalidAddress):
        import_string(OURS)().send_messages([message])
    assert stub.requests == []


def test_mailgun_in_email_url_sends_through_the_bulk_backend():
    assert email_url_parse("EMAIL_URL", "anymail://mailgun") == {"backend": OURS, "provider": "mailgun"}


def test_a_send_through_the_stub_records_every_reader_exactly_once(seed_digest, stub, settings, https_site):
    settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "bulk": email_url_parse("EMAIL_URL", "anymail://mailgun")}
    settings.DELIVERY_BATCH_SIZE = 7
    emails = [f"reader{i}+digest@example.org" for i in range(20)] + ["leser@bücher.example", "O'Hara@Example.ORG"]
    readers = [Subscriber.objects.create(email=email, status="active") for email in emails]
    digest_start(seed_digest, immediate=True, allow_stale=True)
    for _ in range(20):
        if not Delivery.objects.filter(digest=seed_digest, status__in=["pending", "sending"]).exists():
            break
        deliveries_send_batch(seed_digest.pk)

    deliveries = Delivery.objects.filter(digest=seed_digest)
    assert deliveries.count() == len(readers)
    assert set(deliveries.values_list("status", flat=True)) == {"sent"}
    assert len(stub.requests) > 1
    sent_to = Counter(address for request in stub.requests for address in request["fields"]["to"])
    assert sent_to == Counter(
        [f"reader{i}+digest@example.org" for i in range(20)] + ["leser@xn--bcher-kva.example", "O'Hara@Example.ORG"]
    )
    # Each batch call's recipient-variables carry exactly its own readers' delivery ids (a call
    # of one reader carries it as plain metadata).
    ids = Counter()
    for request in stub.requests:
        fields = request["fields"]
        if "recipient-variables" not in fields:
            ids.update(fields["v:delivery_id"])
            continue
        variables = json.loads(fields["recipient-variables"][0])
        assert set(variables) == set(fields["to"])
        ids.update(values["v:delivery_id"] for values in variables.values())
    assert ids == Counter(str(pk) for pk in deliveries.values_list("pk", flat=True))
