"""The content a variant shows: a frozen snapshot of a digest's items, grouped by category.

Rendering works from this snapshot, never from querysets, so the email, the
archive page and the feeds show exactly the same items in the same order, and a
variant's cache key can be a fingerprint of what it shows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from digests.content.ordering import items_by_section
from digests.models import Digest, Item


@dataclass(frozen=True)
class ItemContent:
    pk: int
    digest_id: int
    title: str
    summary: str
    background: str
    key_points: tuple[str, ...]
    source_name: str
    # Empty when the stored link is not http(s): it is then shown as plain text.
    source_url: str
    raw_source_url: str
    # Empty when the stored image link is not http(s): the image is then left out.
    image_url: str = ""
    raw_image_url: str = ""
    image_alt: str = ""


@dataclass(frozen=True)
class SectionContent:
    category_id: int
    name: str
    slug: str
    items: tuple[ItemContent, ...]


@dataclass(frozen=True)
class DigestContent:
    digest_id: int
    sections: tuple[SectionContent, ...]
    fingerprint: str

    def sections_for(self, category_ids: frozenset[int] | None) -> tuple[SectionContent, ...]:
        """Sections of the given categories (all when None), in the issue's section order."""
        if category_ids is None:
            return self.sections
        return tuple(section for section in self.sections if section.category_id in category_ids)


def url_is_http(url: str) -> bool:
    """True for an absolute http:// or https:// link with a host; editors' other schemes are never linked."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and not any(c in url for c in "\r\n\t\"'<> ")


def _item_content(item: Item) -> ItemContent:
    url = item.source_url.strip()
    return ItemContent(
        pk=item.pk,
        digest_id=item.digest_id,
        title=item.title.strip(),
        summary=item.summary.strip(),
        background=item.background.strip(),
        key_points=tuple(str(point).strip() for point in (item.key_points or []) if str(point).strip()),
        source_name=item.source_name.strip(),
        source_url=url if url_is_http(url) else "",
        raw_source_url=url,
        image_url=item.image_url.strip() if url_is_http(item.image_url) else "",
        raw_image_url=item.image_url.strip(),
        image_alt=" ".join(item.image_alt.split()),
    )


def digest_content(digest: Digest) -> DigestContent:
    """The digest's items grouped by category in display order; loaded once per digest instance."""
    cached = getattr(digest, "_rendering_content", None)
    if cached is not None:
        return cached
    items = digest.items.select_related("category").order_by("position", "id")
    sections = [
        SectionContent(category.pk, category.name, category.slug, tuple(_item_content(item) for item in bucket))
        for category, bucket in items_by_section(items, digest.section_order)
    ]
    fingerprint = hashlib.sha256(
        repr(
            (
                digest.pk,
                digest.title,
                digest.subject,
                digest.preheader,
                digest.intro,
                digest.lead_item_id,
                digest.issue_date,
                digest.updated_at,
                sections,
            )
        ).encode()
    ).hexdigest()[:24]
    content = DigestContent(digest_id=digest.pk, sections=tuple(sections), fingerprint=fingerprint)
    digest._rendering_content = content
    return content


def digest_content_forget(digest: Digest) -> None:
    """Drop the snapshot held on this instance (after its items were edited)."""
    digest.__dict__.pop("_rendering_content", None)
