"""Reader links: signed per purpose, no address or id inside, tamper-evident."""

import pytest

from digests.links import BadToken, reader_links, reader_token
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
