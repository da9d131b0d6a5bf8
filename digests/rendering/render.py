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
from django.urls import reverse
from django.utils import translation
from django.utils.translation import pgettext

from digests.links import PLACEHOLDER_LINKS, ReaderLinks, archive_url, click_url, open_pixel_url, site_url
from digests.models import Digest
from digests.rendering.lines import text_width, text_wrap
from digests.rendering.markup import LinkNumbers, markup_html, markup_plain, markup_text
from digests.rendering.premail import html_inline
from digests.rendering.sections import DigestContent, ItemContent, SectionContent, digest_content

# Display columns (a CJK character counts two): what phones show of a subject line.
SUBJECT_MAX_COLUMNS = 60
# Characters: what mail apps show of the preview text after the subject.
PREHEADER_MAX_CHARS = 90
# Item images are shown in a 16:9 frame as wide as the text column.
IMAGE_WIDTH = 536
IMAGE_HEIGHT = 302


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str


@dataclass(frozen=True)
class ItemView:
    """An item as a template shows it: its content, its number, the link its source points to, and
    its texts with inline markup rendered (HTML, safe) and as plain text."""

    content: ItemContent
    link: str
    number: int = 0
    summary_html: str = ""
    background_html: str = ""
    key_points_html: tuple[str, ...] = ()
    summary_text: str = ""
    background_text: str = ""
    key_points_text: tuple[str, ...] = ()

    def __getattr__(self, name):
        if name == "content":
            raise AttributeError(name)
        return getattr(self.content, name)


@dataclass(frozen=True)
class SectionView:
    name: str
    slug: str
    items: tuple[ItemView, ...]
    # How many of the section's items this variant shows in all, the lead included.
    count: int = 0

    @property
    def anchor(self) -> str:
        return f"s-{self.slug}"


def language_override(language: str | None):
    """``translation.override(language)`` when a language is given, else the active translation."""
    return translation.override(language) if language else contextlib.nullcontext()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def text_cut(text: str, *, columns: int | None = None, chars: int | None = None) -> str:
    """``text`` cut at a character boundary to fit ``columns`` display columns (CJK counts two) or
    ``chars`` characters, with "…" when cut. Works on plain text, before any escaping, so a cut never
    falls inside an entity, a tag or an escaped string."""
    fits = (lambda t: text_width(t) <= columns) if columns is not None else (lambda t: len(t) <= chars)
    if fits(text):
        return text
    cut = text
    while cut and not fits(cut.rstrip() + "…"):
        cut = cut[:-1]
    return cut.rstrip(" ，、；：,;:·-") + "…"


def lead_content(digest: Digest, sections) -> ItemContent | None:
    items = [item for section in sections for item in section.items]
    chosen = next((item for item in items if item.pk == digest.lead_item_id), None)
    return chosen or (items[0] if items else None)


def digest_heading(digest: Digest) -> str:
    """The issue's name, as in the seed and on the web: "AI 行业动态 (2026-02-06)"; a weekly edition
    names the week it covers: "AI 行业动态 周刊 (2026-02-02 – 2026-02-08)"."""
    if digest.is_weekly and digest.period_start:
        return f"{_one_line(digest.title)} ({digest.period_start.isoformat()} – {digest.issue_date.isoformat()})"
    return f"{_one_line(digest.title)} ({digest.issue_date.isoformat()})"


def _day(date) -> str:
    return f"{date.month}/{date.day}"


def subject_default(digest: Digest, lead: ItemContent | None) -> str:
    """The publication's name, the issue's day and the lead story's title, within 60 display columns.

    A weekly edition says so and names its days: "AI 行业动态 周刊 2/2–2/8｜<lead>"."""
    head = f"{_one_line(settings.SITE_NAME)} {_day(digest.issue_date)}"
    if digest.is_weekly and digest.period_start:
        weekly = pgettext("weekly edition, in the subject", "Weekly")
        head = f"{_one_line(settings.SITE_NAME)} {weekly} {_day(digest.period_start)}–{_day(digest.issue_date)}"
    if lead is None:
        return digest_heading(digest)
    return text_cut(f"{head}｜{_one_line(lead.title)}", columns=SUBJECT_MAX_COLUMNS)


def digest_subject(digest: Digest, sections=None) -> str:
    """The issue's subject: the editor's, else one made from the publication and the lead story."""
    if digest.subject.strip():
        return _one_line(digest.subject)
    sections = digest_content(digest).sections if sections is None else sections
    return subject_default(digest, lead_content(digest, sections))


def preheader_default(digest: Digest, lead: ItemContent | None) -> str:
    """The 导语, else the lead story's 说明, as plain text cut at a character boundary with "…"."""
    source = digest.intro if digest.intro.strip() else (lead.summary if lead else "")
    return text_cut(_one_line(markup_plain(source)), chars=PREHEADER_MAX_CHARS)


def variant_preheader(digest: Digest, sections: tuple[SectionContent, ...]) -> str:
    """The issue's own preheader, else the default from the 导语 or this variant's lead story."""
    if digest.preheader.strip():
        return _one_line(digest.preheader)
    return preheader_default(digest, lead_content(digest, sections))


def _item_view(item: ItemContent, number: int, reader_ref: str | None) -> ItemView:
    # reader_ref None means "link straight to the source" (web page, feeds, tracking off).
    link = item.source_url
    if link and reader_ref is not None:
        link = click_url(item.digest_id, item.pk, reader_ref)

    def href(url: str, index: int) -> str:
        return click_url(item.digest_id, item.pk, reader_ref, link=index) if reader_ref is not None else url

    html_numbers, text_numbers = LinkNumbers(), LinkNumbers()
    return ItemView(
        content=item,
        link=link,
        number=number,
        summary_html=markup_html(item.summary, href=href, numbers=html_numbers),
        background_html=markup_html(item.background, href=href, numbers=html_numbers),
        key_points_html=tuple(markup_html(point, href=href, numbers=html_numbers) for point in item.key_points),
        summary_text=markup_text(item.summary, href=href, numbers=text_numbers),
        background_text=markup_text(item.background, href=href, numbers=text_numbers),
        key_points_text=tuple(markup_text(point, href=href, numbers=text_numbers) for point in item.key_points),
    )


def _section_views(
    sections: tuple[SectionContent, ...], *, reader_ref: str | None, lead_id: int | None
) -> tuple[ItemView | None, list[SectionView]]:
    lead = None
    number = 1 if lead_id is not None else 0
    views = []
    for section in sections:
        items = []
        for item in section.items:
            if item.pk == lead_id:
                lead = _item_view(item, 1, reader_ref)
                continue
            number += 1
            items.append(_item_view(item, number, reader_ref))
        views.append(SectionView(name=section.name, slug=section.slug, items=tuple(items), count=len(section.items)))
    return lead, views


def brand_context() -> dict:
    """The brand settings (publication name, logo, accent colours, tagline) as templates use them."""
    return {
        "name": settings.SITE_NAME,
        "logo_url": settings.BRAND_LOGO_URL,
        "logo_width": settings.BRAND_LOGO_WIDTH,
        "logo_height": settings.BRAND_LOGO_HEIGHT,
        "logo_alt": settings.BRAND_LOGO_ALT,
        "accent": settings.BRAND_ACCENT_COLOR,
        "accent_text": settings.BRAND_ACCENT_TEXT_COLOR,
        "tagline": settings.BRAND_TAGLINE,
    }


def content_context(digest: Digest, sections: tuple[SectionContent, ...], *, reader_ref: str | None = None) -> dict:
    """The template context the shared design (``emails/digest_body.html``) needs: masthead, lead,
    contents and sections. The email and the archive page both use it."""
    lead_item = lead_content(digest, sections)
    lead, views = _section_views(sections, reader_ref=reader_ref, lead_id=lead_item.pk if lead_item else None)
    return {
        "digest": digest,
        "intro_html": markup_html(digest.intro.strip()),
        "intro_text": markup_text(digest.intro.strip()),
        "lead": lead,
        "sections": [view for view in views if view.items],
        "toc": views,
        "brand": brand_context(),
        "image_width": IMAGE_WIDTH,
        "image_height": IMAGE_HEIGHT,
        "postal_address": settings.PUBLISHER_POSTAL_ADDRESS,
        "publisher_address": settings.PUBLISHER_ADDRESS,
        "subscribe_url": site_url(reverse("digests:subscribe")),
        "content_language": translation.to_language(settings.LANGUAGE_CODE),
        "content_lang": _html_lang(translation.to_language(settings.LANGUAGE_CODE)),
        "html_lang": _html_lang(translation.get_language() or settings.LANGUAGE_CODE),
        "item_count": sum(len(s.items) for s in sections),
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
        subject=digest_subject(digest, content.sections),
        preheader=variant_preheader(digest, sections),
        links=links,
        for_reader=True,
        archive_url=archive_url(digest.issue_date, weekly=digest.is_weekly),
        site_name=settings.SITE_NAME,
        site_url=site_url("/"),
        open_pixel_url=open_pixel_url(links.reader_ref) if settings.TRACK_OPENS else "",
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
