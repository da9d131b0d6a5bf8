"""Helpers shared by the rendering tests: parsing rendered HTML."""

from lxml import html as lxml_html

from digests.content.digest_format import digest_parse


def parse_html(html: str):
    return lxml_html.document_fromstring(html)


def visible_text(html: str) -> str:
    document = parse_html(html)
    for hidden in document.xpath("//style|//title|//head"):
        hidden.drop_tree()
    return " ".join(document.text_content().split())


def seed_parsed(seed_bytes: bytes):
    return digest_parse(seed_bytes)
