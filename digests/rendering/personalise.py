"""A reader's copy of an inlined variant: substitution of their links, nothing more."""

from __future__ import annotations

from html import escape

from digests.links import PLACEHOLDER_LINKS, ReaderLinks
from digests.rendering.render import RenderedEmail


def email_personalise(rendered: RenderedEmail, links: ReaderLinks) -> RenderedEmail:
    """``rendered`` (made with PLACEHOLDER_LINKS) with this reader's links substituted; microseconds per call."""
    html = rendered.html
    text = rendered.text
    for placeholder, value in (
        (PLACEHOLDER_LINKS.preferences_url, links.preferences_url),
        (PLACEHOLDER_LINKS.unsubscribe_url, links.unsubscribe_url),
        (PLACEHOLDER_LINKS.reader_ref, links.reader_ref),
    ):
        # The templates escape what they output, so the HTML gets the escaped value.
        html = html.replace(placeholder, escape(value, quote=True))
        text = text.replace(placeholder, value)
    return RenderedEmail(subject=rendered.subject, preheader=rendered.preheader, html=html, text=text)
