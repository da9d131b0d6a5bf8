"""The inline formatting editors may use in 说明, 背景 and 要点: `code`, **bold** and [text](https://…).

The stored text keeps the markup exactly as typed (the text format round-trips
it byte for byte); this module reads it into a small tree that rendering turns
into HTML or plain text. Anything that is not one of the three forms, or not
closed, stays literal text (and is escaped when rendered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Bold:
    children: tuple


@dataclass(frozen=True)
class Link:
    label: str
    url: str


def link_url_is_http(url: str) -> bool:
    """True for an absolute http(s) link with a host and no characters that could break out of an attribute."""
    if not url or any(c in url for c in " \t\r\n\"'<>`"):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _link_end(text: str, start: int) -> int:
    """Index of the ')' closing a link target starting at ``start`` (parentheses inside balance), or -1."""
    depth = 0
    for index in range(start, len(text)):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return index
            depth -= 1
        elif char.isspace():
            return -1
    return -1


def _link_at(text: str, index: int) -> tuple[Link, int] | None:
    close = text.find("](", index)
    if close < 0:
        return None
    label = text[index + 1 : close]
    if not label.strip() or "[" in label or "]" in label or "\n" in label:
        return None
    end = _link_end(text, close + 2)
    if end < 0:
        return None
    url = text[close + 2 : end]
    if not link_url_is_http(url):
        return None
    return Link(label=label, url=url), end + 1


_SPECIAL = re.compile(r"[`*\[]")


def markup_parse(text: str, *, in_bold: bool = False) -> tuple:
    """``text`` as a tuple of Text, Code, Bold and Link nodes; unclosed markup stays Text."""
    if not _SPECIAL.search(text):
        return (Text(text),) if text else ()
    nodes: list = []
    literal: list[str] = []
    index = 0

    def flush():
        if literal:
            nodes.append(Text("".join(literal)))
            literal.clear()

    while index < len(text):
        char = text[index]
        if char == "`":
            end = text.find("`", index + 1)
            if end > index + 1:
                flush()
                nodes.append(Code(text[index + 1 : end]))
                index = end + 1
                continue
        elif text.startswith("**", index) and not in_bold:
            end = text.find("**", index + 2)
            if end > index + 2:
                flush()
                nodes.append(Bold(markup_parse(text[index + 2 : end], in_bold=True)))
                index = end + 2
                continue
        elif char == "[":
            found = _link_at(text, index)
            if found is not None:
                flush()
                nodes.append(found[0])
                index = found[1]
                continue
        # Plain text up to the next character that could open markup.
        found = _SPECIAL.search(text, index + 1)
        end = found.start() if found else len(text)
        literal.append(text[index:end])
        index = end
    flush()
    return tuple(nodes)


def _walk(nodes: tuple):
    for node in nodes:
        yield node
        if isinstance(node, Bold):
            yield from _walk(node.children)


def markup_links(text: str) -> list[str]:
    """The link targets in ``text``, in reading order."""
    return [node.url for node in _walk(markup_parse(text)) if isinstance(node, Link)]


def markup_unbalanced(text: str) -> list[str]:
    """The markup characters left literal in ``text`` (an unclosed ` or **, a [text]( with no valid link)."""
    found = []
    for node in _walk(markup_parse(text)):
        if isinstance(node, Text):
            if "`" in node.text:
                found.append("`")
            if "**" in node.text:
                found.append("**")
            if "](" in node.text:
                found.append("[…](…)")
    return found


def item_markup_texts(*, summary: str, background: str, key_points) -> list[str]:
    """The item texts that may carry inline markup, in the order their links are numbered."""
    return [summary, background, *key_points]


def item_link_targets(item) -> list[str]:
    """Every inline link of an item (an ``Item`` or its rendering snapshot), numbered from 1 in reading order."""
    links: list[str] = []
    for text in item_markup_texts(summary=item.summary, background=item.background, key_points=item.key_points or []):
        links += markup_links(str(text))
    return links
