"""The one rendering function: a digest variant becomes subject, preheader, inlined HTML and text.

The admin preview, the web archive, the ``render_digest`` command and the sender
all come through here; nothing else renders digests.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from digests.links import PLACEHOLDER_LINKS, ReaderLinks, archive_url, click_url, open_pixel_url, site_url
from digests.models import Digest
from digests.rendering.lines import text_wrap
from digests.rendering.premail import html_inline
from digests.rendering.sections import DigestContent, ItemContent, SectionContent, digest_content

PREHEADER_MAX_CHARS = 90


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str


@dataclass(frozen=True)
class ItemView:
    """An item as a template shows it: its content plus the link its source name points to."""

    content: ItemContent
    link: str

    def __getattr__(self, name):
        if name == "content":
            raise AttributeError(name)
        return getattr(self.content, name)


@dataclass(frozen=True)
class SectionView:
    name: str
    slug: str
    items: tuple[ItemView, ...]

    @property
    def anchor(self) -> str:
        return f"s-{self.slug}"


def language_override(language: str | None):
    """``translation.override(language)`` when a language is given, else the active translation."""
    return translation.override(language) if language else contextlib.nullcontext()


def digest_subject(digest: Digest) -> str:
    """The subject line and masthead, as in the seed: "AI 行业动态 (2026-02-06)"."""
    return f"{' '.join(digest.title.split())} ({digest.issue_date.isoformat()})"


def variant_preheader(digest: Digest, sections: tuple[SectionContent, ...]) -> str:
    """The digest's own preheader, else this variant's first item titles, at most 90 characters."""
    if digest.preheader.strip():
        return " ".join(digest.preheader.split())
    titles = [item.title for section in sections for item in section.items]
    text = "；".join(" ".join(title.split()) for title in titles)
    return text if len(text) <= PREHEADER_MAX_CHARS else text[: PREHEADER_MAX_CHARS - 1].rstrip("；") + "…"


def _section_views(sections: tuple[SectionContent, ...], *, reader_ref: str | None) -> list[SectionView]:
    # reader_ref None means "link straight to the source" (web page, feeds, tracking off).
    views = []
    for section in sections:
        items = []
        for item in section.items:
            link = item.source_url
            if link and reader_ref is not None:
                link = click_url(item.digest_id, item.pk, reader_ref)
            items.append(ItemView(content=item, link=link))
        views.append(SectionView(name=section.name, slug=section.slug, items=tuple(items)))
    return views


def content_context(digest: Digest, sections: tuple[SectionContent, ...], *, reader_ref: str | None = None) -> dict:
    """The template context the shared content blocks (``emails/digest_content.html``) need."""
    return {
        "digest": digest,
        "sections": _section_views(sections, reader_ref=reader_ref),
        "content_language": translation.to_language(settings.LANGUAGE_CODE),
    }


def _html_lang(code: str) -> str:
    # BCP 47 as HTML wants it: zh-hans -> zh-Hans.
    parts = code.split("-")
    return "-".join([parts[0]] + [p.title() if len(p) == 4 else p.upper() if len(p) == 2 else p for p in parts[1:]])


def variant_context(
    digest: Digest, category_ids: frozenset[int] | None, links: ReaderLinks, *, content: DigestContent | None = None
) -> dict | None:
    """Everything the email templates need for this variant, or None when it has no items."""
    content = content or digest_content(digest)
    sections = tuple(s for s in content.sections_for(category_ids) if s.items)
    if not sections:
        return None
    reader_ref = links.reader_ref if settings.TRACK_CLICKS else None
    context = content_context(digest, sections, reader_ref=reader_ref)
    context.update(
        subject=digest_subject(digest),
        preheader=variant_preheader(digest, sections),
        links=links,
        archive_url=archive_url(digest.issue_date),
        site_name=settings.SITE_NAME,
        site_url=site_url("/"),
        publisher_address=settings.PUBLISHER_ADDRESS,
        html_lang=_html_lang(translation.get_language() or settings.LANGUAGE_CODE),
        content_lang=_html_lang(translation.to_language(settings.LANGUAGE_CODE)),
        open_pixel_url=open_pixel_url(links.reader_ref) if settings.TRACK_OPENS else "",
        item_count=sum(len(s.items) for s in sections),
    )
    return context


def _text_tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"
    return text_wrap(tidy)


def variant_render(
    digest: Digest,
    category_ids: frozenset[int] | None = None,
    links: ReaderLinks = PLACEHOLDER_LINKS,
    *,
    language: str | None = None,
) -> RenderedEmail | None:
    """Render one variant of ``digest`` for readers of ``category_ids`` (None: every category with items).

    Returns subject, preheader, CSS-inlined HTML and plain text, rendered under
    ``language`` when given (else the active translation), with ``links`` filled
    in. Returns None when none of those categories has items in this digest:
    such readers get no email for it.
    """
    with language_override(language):
        context = variant_context(digest, category_ids, links)
        if context is None:
            return None
        html = render_to_string("emails/digest.html", context)
        text = render_to_string("emails/digest.txt", context)
    return RenderedEmail(
        subject=context["subject"], preheader=context["preheader"], html=html_inline(html), text=_text_tidy(text)
    )
