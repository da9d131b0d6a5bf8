"""Inline markup (digests.content.markup) as HTML for the email and the archive, and as plain text.

Editor text passes only through here: every character outside the three
allowed forms is escaped, and links are http(s) only, written by us.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from django.utils.safestring import SafeString, mark_safe

from digests.content.markup import Bold, Code, Link, Text, markup_parse

CODE_STYLE = (
    "font-family:SFMono-Regular,Consolas,Menlo,monospace;font-size:13px;"
    "background-color:#f2f3f5;color:#1f2329;padding:1px 4px;border-radius:3px;"
)


class LinkNumbers:
    """Hands out the next inline link's number (1, 2, …) across an item's fields."""

    def __init__(self):
        self.count = 0

    def next(self) -> int:
        self.count += 1
        return self.count


def _html(nodes, href: Callable[[str, int], str], numbers: LinkNumbers) -> str:
    out = []
    for node in nodes:
        if isinstance(node, Text):
            out.append(escape(node.text, quote=False).replace("\n", "<br>"))
        elif isinstance(node, Code):
            out.append(f'<code class="code" style="{CODE_STYLE}">{escape(node.text, quote=False)}</code>')
        elif isinstance(node, Bold):
            out.append(f"<strong>{_html(node.children, href, numbers)}</strong>")
        elif isinstance(node, Link):
            target = href(node.url, numbers.next())
            out.append(f'<a class="inline-link" href="{escape(target, quote=True)}">{escape(node.label, quote=False)}</a>')
    return "".join(out)


def markup_html(text: str, *, href: Callable[[str, int], str] | None = None, numbers: LinkNumbers | None = None) -> SafeString:
    """``text`` as safe HTML: code, bold and links rendered, everything else escaped."""
    return mark_safe(_html(markup_parse(text), href or (lambda url, n: url), numbers or LinkNumbers()))


def _text(nodes, href: Callable[[str, int], str], numbers: LinkNumbers) -> str:
    out = []
    for node in nodes:
        if isinstance(node, (Text, Code)):
            out.append(node.text)
        elif isinstance(node, Bold):
            out.append(_text(node.children, href, numbers))
        elif isinstance(node, Link):
            out.append(f"{node.label} ({href(node.url, numbers.next())})")
    return "".join(out)


def markup_text(text: str, *, href: Callable[[str, int], str] | None = None, numbers: LinkNumbers | None = None) -> str:
    """``text`` as readable plain text: code and bold as their text, a link as "text (url)"."""
    return _text(markup_parse(text), href or (lambda url, n: url), numbers or LinkNumbers())


def markup_plain(text: str) -> str:
    """``text`` with the markup taken away: code and bold as their text, a link as its label (preheaders)."""
    return _text(markup_parse(text), lambda url, n: "", LinkNumbers()).replace(" ()", "")
