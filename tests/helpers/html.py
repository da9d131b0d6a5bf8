"""Reading rendered HTML: parse it, or get the text a reader sees."""

from lxml import html as lxml_html


def parse_html(html: str):
    return lxml_html.document_fromstring(html)


def visible_text(html: str) -> str:
    document = parse_html(html)
    for hidden in document.xpath("//style|//title|//head"):
        hidden.drop_tree()
    return " ".join(document.text_content().split())
