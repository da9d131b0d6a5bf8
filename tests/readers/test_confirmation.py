"""Double opt-in: the emailed link shows a button, the POST activates and records consent."""

import re

import pytest
from django.core import mail, signing
from django.test import Client

from digests.links import reader_token
from digests.models import Consent, Subscriber, Suppression
from digests.readers.privacy import address_hash, ip_hash, subscriber_erase
from digests.readers.signup import subscriber_signup
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db
S = Subscriber.Status


def confirm_path_from(message) -> str:
    url = re.search(r"https?://\S+/confirm/\S+/", message.body).group(0)
    assert url in message.alternatives[0].content
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def pending(on_commit, categories):
    on_commit(subscriber_signup, email="new@example.com", name="李雷", categories=categories[:2], language="en")
    return Subscriber.objects.get(email="new@example.com")


def test_the_email_is_multipart_in_the_readers_language_with_a_signed_link(pending, settings):
    message = mail.outbox[0]
    assert message.subject == f"Confirm your subscription to {settings.SITE_NAME}"
    assert message.alternatives[0].mimetype == "text/html"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "李雷" in message.body
    path = confirm_path_from(message)
    assert "new@example.com" not in path and f"/{pending.pk}/" not in path
    assert f"{settings.CONFIRMATION_MAX_AGE_DAYS} days" in message.body


def test_the_email_is_sent_through_the_transactional_connection(on_commit, categories, settings):
    settings.MAIL_CONNECTIONS = {
        "bulk": {"backend": "django.core.mail.backends.dummy.EmailBackend"},
        "transactional": {"backend": "django.core.mail.backends.locmem.EmailBackend"},
    }
    on_commit(subscriber_signup, email="t@example.com", categories=categories, language="zh-hans")
    assert len(mail.outbox) == 1


def test_opening_the_link_shows_a_button_and_changes_nothing(client, pending):
    response = client.get(confirm_path_from(mail.outbox[0]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Confirm my subscription" in body and 'method="post"' in body
    pending.refresh_from_db()
    assert pending.status == S.PENDING and not Consent.objects.exists()


def test_pressing_the_button_activates_records_consent_and_shows_the_categories(client, pending, categories):
    path = confirm_path_from(mail.outbox[0])
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    response = client.post(path, HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.status == S.ACTIVE and pending.confirmed_at is not None
    consent = Consent.objects.get(subscriber=pending)
    assert consent.form == "signup+confirm"
    assert consent.wording in page
    assert consent.ip_hash == ip_hash("203.0.113.7") and "203.0.113.7" not in consent.ip_hash
    body = response.content.decode()
    assert categories[0].name in body and categories[1].name in body and categories[2].name not in body
    assert re.search(r'href="/preferences/[^"]+/"', body)


def test_the_confirm_post_needs_a_csrf_token(pending):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(confirm_path_from(mail.outbox[0]))
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == S.PENDING


def test_confirming_twice_is_harmless(client, pending):
    path = confirm_path_from(mail.outbox[0])
    client.post(path)
    second = client.post(path)
    assert second.status_code == 200
    assert Consent.objects.count() == 1


def test_the_ip_hash_is_keyed_with_the_secret_key(settings):
    first = ip_hash("198.51.100.1")
    settings.SECRET_KEY = "another-secret-key-that-is-long-enough-0123456789"
    assert ip_hash("198.51.100.1") != first


def test_a_tampered_token_gives_a_friendly_404(client, pending):
    path = confirm_path_from(mail.outbox[0])
    token = path.split("/")[2]
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "garbage", reader_token(pending.key, "unsubscribe")):
        response = client.get(f"/confirm/{bad}/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404
        assert "This link does not work" in response.content.decode()
        assert client.post(f"/confirm/{bad}/").status_code == 404
    pending.refresh_from_db()
    assert pending.status == S.PENDING


def test_an_expired_link_gives_a_friendly_404(client, pending, settings, monkeypatch):
    path = confirm_path_from(mail.outbox[0])
    now = signing.time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now + settings.CONFIRMATION_MAX_AGE_DAYS * 86400 + 5)
    response = client.post(path, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404 and "This link does not work" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == S.PENDING


def test_the_link_is_still_valid_just_before_it_expires(client, pending, settings, monkeypatch):
    path = confirm_path_from(mail.outbox[0])
    now = signing.time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now + settings.CONFIRMATION_MAX_AGE_DAYS * 86400 - 60)
    assert client.post(path).status_code == 200
    pending.refresh_from_db()
    assert pending.status == S.ACTIVE


def test_an_old_link_does_not_bring_back_a_reader_who_unsubscribed(client, pending):
    from digests.readers.unsubscribe import subscriber_unsubscribe

    path = confirm_path_from(mail.outbox[0])
    subscriber_unsubscribe(pending)
    assert client.post(path).status_code == 404
    pending.refresh_from_db()
    assert pending.status == S.UNSUBSCRIBED


def test_the_task_sends_nothing_to_a_reader_who_is_no_longer_pending(categories):
    from digests.tasks import send_transactional_confirmation

    reader = make_reader("gone@example.com", status=S.UNSUBSCRIBED)
    send_transactional_confirmation.apply(args=[reader.pk])
    assert mail.outbox == []


def test_the_task_is_routed_to_the_transactional_queue():
    from newsletter.celery import app

    route = app.amqp.router.route({}, "digests.tasks.send_transactional_confirmation")
    assert route["queue"].name == "transactional"


def test_an_erased_address_can_come_back_only_through_double_opt_in(client, on_commit, categories):
    reader = make_reader("erased@example.com")
    subscriber_erase(reader)
    assert Suppression.objects.filter(email_hash=address_hash("erased@example.com")).exists()
    on_commit(subscriber_signup, email="erased@example.com", categories=categories, language="en")
    returning = Subscriber.objects.get(email="erased@example.com")
    assert returning.status == S.PENDING
    client.post(confirm_path_from(mail.outbox[0]))
    returning.refresh_from_db()
    assert returning.status == S.ACTIVE
    assert not Suppression.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_transactional_queue_sends_the_confirmation(client, categories):
    import time

    from celery.contrib.testing.worker import start_worker

    from newsletter.celery import app

    app.control.purge()
    with start_worker(app, queues=["transactional"], pool="solo", perform_ping_check=False, shutdown_timeout=10):
        client.post("/subscribe/", {"email": "worker@example.com", "categories": [categories[0].pk]})
        deadline = time.monotonic() + 20
        while not mail.outbox and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [m.to for m in mail.outbox] == [["worker@example.com"]]
    assert "/confirm/" in mail.outbox[0].body


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("name", ["", "李雷", '<b>O\'Brien & "Co"</b>', "zqConfirmUrlSlotqz"])
def test_the_email_rendered_once_per_language_says_exactly_what_rendering_it_for_the_reader_says(
    categories, language, name, settings, monkeypatch
):
    from digests import links
    from digests.links import reader_url

    # Both renderings sign the link: on one clock second, or a tick between them changes the token.
    stamp = links._timestamp()
    monkeypatch.setattr(links, "_timestamp", lambda: stamp)
    from digests.mail import transactional_message
    from digests.readers.confirmation import confirmation_message

    reader = make_reader("once@example.com", status=S.PENDING, language=language, name=name)
    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "name": name,
        "confirm_url": reader_url(reader.key, "confirm"),
        "max_age_days": settings.CONFIRMATION_MAX_AGE_DAYS,
        "publisher_address": settings.PUBLISHER_ADDRESS,
    }
    for _ in range(2):  # the first renders the templates, the second reuses them
        made = confirmation_message(reader)
        expected = transactional_message("confirm", to=reader.email, language=language, context=context)
        assert (made.subject, made.body, made.alternatives[0].content) == (
            expected.subject,
            expected.body,
            expected.alternatives[0].content,
        )
        assert made.to == ["once@example.com"] and made.extra_headers["Auto-Submitted"] == "auto-generated"
    assert ("您好" in made.body) == (language == "zh-hans")


def test_a_changed_site_name_shows_in_the_next_confirmation_email(categories, settings):
    from digests.readers.confirmation import confirmation_message

    reader = make_reader("renamed@example.com", status=S.PENDING, language="en")
    assert "Old Name" not in confirmation_message(reader).subject
    settings.SITE_NAME = "Old Name"
    assert confirmation_message(reader).subject == "Confirm your subscription to Old Name"


def _django_bytes(message) -> bytes:
    """What Django's builder serialises for ``message``'s subject, parts, address and Message-ID."""
    from digests.mail import transactional_message_of

    built = transactional_message_of(
        subject=message.subject, text=message.body, html=message.alternatives[0].content, to=message.to[0]
    )
    built.extra_headers["Message-ID"] = message.extra_headers["Message-ID"]
    return built.message().as_bytes(linesep="\r\n")


def _same_apart_from_boundary_and_date(made: bytes, expected: bytes) -> None:
    import email

    made_boundary = email.message_from_bytes(made).get_boundary().encode()
    expected_boundary = email.message_from_bytes(expected).get_boundary().encode()
    date = re.compile(rb"^Date: [^\r]*\r\n", re.MULTILINE)
    assert len(date.findall(made)) == 1
    assert date.sub(b"", made) == date.sub(b"", expected.replace(expected_boundary, made_boundary))


READERS = [
    ("ascii@example.com", "Ada Lovelace"),
    ("zh@example.com", "王小明"),
    ("noname@example.com", ""),
    ("quotes@example.com", '"Bobby" O\'Brien <b>&</b>, Jr.'),
    ("long@example.com", ("Maximiliane-Alexandra von Hohenzollern-Sigmaringen " * 2)[:100]),
    ("lines@example.com", "two\nlines\r\nand\rthree"),
    ("Wang.Li@中国.中国", "李雷 = =?utf-8?q?x?="),
    ("slot@example.com", "zqConfirmNameSlotqz zqConfirmUrlSlotqz"),
]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(("address", "name"), READERS)
def test_the_filled_in_bytes_are_what_djangos_builder_serialises(categories, language, address, name, settings):
    import email
    import email.policy

    from digests.readers.confirmation import confirmation_message

    settings.REPLY_TO_EMAIL = "Editors 编辑 <editors@example.com>"
    reader = make_reader(address, status=S.PENDING, language=language, name=name)
    for _ in range(2):  # the first builds the bytes, the second fills them in again
        made = confirmation_message(reader)
        raw = made.message().as_bytes(linesep="\r\n")
        expected = _django_bytes(made)
        _same_apart_from_boundary_and_date(raw, expected)
        # What a mail client reads: the same headers and decoded parts.
        ours = email.message_from_bytes(raw, policy=email.policy.default)
        theirs = email.message_from_bytes(expected, policy=email.policy.default)
        # Apart from the Date (the time of building) and the boundary (random per message, as Django's).
        assert [(k, str(v)) for k, v in ours.items() if k not in ("Date", "Content-Type")] == [
            (k, str(v)) for k, v in theirs.items() if k not in ("Date", "Content-Type")
        ]
        assert list(ours) == list(theirs) and ours.get_content_type() == theirs.get_content_type()
        assert str(ours["To"]).endswith(reader.email.split("@")[0] + "@xn--fiqs8s.xn--fiqs8s") or (
            str(ours["To"]) == reader.email
        )
        assert [p.get_content() for p in ours.iter_parts()] == [p.get_content() for p in theirs.iter_parts()]
        text, html = (p.get_content() for p in ours.iter_parts())
        assert name.split()[0] in text if name else True
        assert made.message()["Message-ID"] == made.extra_headers["Message-ID"]
        assert made.message()["Content-Type"].startswith("multipart/alternative")


def test_each_message_gets_its_own_message_id_and_boundary(categories):
    import email

    from digests.readers.confirmation import confirmation_message

    reader = make_reader("twice@example.com", status=S.PENDING, language="en", name="Ann")
    first, second = (email.message_from_bytes(confirmation_message(reader).message().as_bytes()) for _ in range(2))
    assert first["Message-ID"] != second["Message-ID"]
    assert first.get_boundary() != second.get_boundary()


def test_a_line_too_long_for_8bit_is_built_by_django_as_before(categories):
    from digests.mail.prebuilt import FilledMessage
    from digests.readers.confirmation import confirmation_message

    reader = make_reader("odd@example.com", status=S.PENDING, language="en", name="placeholder")
    reader.name = "x" * 1200  # the model's own limit aside: what matters is what the builder would do
    made = confirmation_message(reader)
    assert not isinstance(made, FilledMessage)
    assert made.body.count(reader.name) == 1
    assert "quoted-printable" in made.message().as_string()


def test_an_ascii_body_goes_out_as_7bit_and_a_long_line_as_django_quoted_prints_it(settings):
    import email

    from digests.mail.prebuilt import FilledMessage, PrebuiltMessage

    settings.DEFAULT_FROM_EMAIL = "news@example.com"
    prebuilt = PrebuiltMessage(subject="Hello NAME", text="Hi NAME\n", html="<p>Hi NAME</p>", fields={"n": "NAME"})
    made = prebuilt.message(to="a@example.com", text_values={"n": "Ann"}, html_values={"n": "Ann"})
    assert isinstance(made, FilledMessage) and made.subject == "Hello Ann"
    raw = made.message().as_bytes(linesep="\r\n")
    _same_apart_from_boundary_and_date(raw, _django_bytes(made))
    assert [p["Content-Transfer-Encoding"] for p in email.message_from_bytes(raw).get_payload()] == ["7bit", "7bit"]
    wide = prebuilt.message(to="a@example.com", text_values={"n": "é" * 600}, html_values={"n": "é" * 600})
    assert not isinstance(wide, FilledMessage)
    assert "quoted-printable" in wide.message().as_string()


def test_the_confirmation_link_from_the_filled_in_bytes_confirms(client, pending):
    import email
    import email.policy

    raw = mail.outbox[0].message().as_bytes(linesep="\r\n")
    text = next(email.message_from_bytes(raw, policy=email.policy.default).iter_parts()).get_content()
    url = re.search(r"https?://\S+/confirm/\S+/", text).group(0)
    response = client.post("/" + url.split("/", 3)[3])
    assert response.status_code in (200, 302)
    pending.refresh_from_db()
    assert pending.status == S.ACTIVE
