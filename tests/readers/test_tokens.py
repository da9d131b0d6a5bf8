"""Reader links: signed per purpose, no address or id inside, tamper-evident."""

from unittest import mock

import pytest
from django.core import signing

from digests.links import BadToken, reader_key_from_token, reader_links, reader_links_many, reader_token
from digests.models import Subscriber
from digests.readers.tokens import reader_from_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader():
    return Subscriber.objects.create(email="reader@example.com", status=Subscriber.Status.ACTIVE)


def test_links_name_neither_the_address_nor_the_row_id(reader, settings):
    links = reader_links(reader.key)
    for url in (links.preferences_url, links.unsubscribe_url):
        assert url.startswith(settings.SITE_URL + "/")
        assert "reader" not in url and "example.com" not in url
        assert f"/{reader.pk}/" not in url
    assert links.unsubscribe_url != links.preferences_url


def test_a_token_only_works_for_its_purpose(reader):
    token = reader_token(reader.key, "unsubscribe")
    assert reader_from_token(token, "unsubscribe") == reader
    with pytest.raises(BadToken):
        reader_from_token(token, "confirm")


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "x" + t, lambda t: "", lambda t: "nonsense"]
)
def test_a_tampered_token_is_rejected(reader, mangle):
    with pytest.raises(BadToken):
        reader_from_token(mangle(reader_token(reader.key, "preferences")), "preferences")


def test_tokens_expire_when_asked(reader, settings):
    token = reader_token(reader.key, "confirm")
    with pytest.raises(BadToken):
        reader_from_token(token, "confirm", max_age=-1)
    assert reader_from_token(token, "confirm", max_age=60) == reader


@pytest.mark.parametrize("purpose", ["confirm", "preferences", "unsubscribe", "data", "ref"])
def test_a_token_is_byte_for_byte_what_djangos_signer_makes(reader, purpose):
    # Reader links are signed without Django's signer (it derives its key anew per token);
    # every link ever sent must stay what Django signs and verifies.
    with mock.patch("django.core.signing.time.time", return_value=1_780_000_000.5):
        ours = reader_token(reader.key, purpose)
        django_own = signing.TimestampSigner(salt=f"digests.reader.{purpose}").sign(reader.key.hex)
        links = reader_links(reader.key)
    assert ours == django_own
    if purpose == "ref":
        assert links.reader_ref == django_own
    if purpose in ("preferences", "unsubscribe"):
        assert getattr(links, f"{purpose}_url").endswith(f"/{django_own}/")


def test_a_batch_of_links_is_each_readers_own(reader):
    other = Subscriber.objects.create(email="other@example.com", status=Subscriber.Status.ACTIVE)
    with mock.patch("django.core.signing.time.time", return_value=1_780_000_000):
        many = reader_links_many([reader.key, other.key])
        one_by_one = [reader_links(reader.key), reader_links(other.key)]
    assert many == one_by_one
    assert reader_key_from_token(many[1].reader_ref, "ref") == other.key


def test_a_token_signed_before_the_secret_key_changed_verifies_while_the_old_key_is_a_fallback(reader, settings):
    settings.SECRET_KEY = "the-old-secret-key-" + "x" * 40
    old = reader_token(reader.key, "unsubscribe")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "the-new-secret-key-" + "y" * 40, ["the-old-secret-key-" + "x" * 40]
    new = reader_token(reader.key, "unsubscribe")
    assert new.rsplit(":", 1)[1] != old.rsplit(":", 1)[1]  # signed with the new key, not a cached old one
    assert reader_from_token(old, "unsubscribe") == reader
    assert reader_from_token(new, "unsubscribe") == reader
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(BadToken):
        reader_from_token(old, "unsubscribe")
