"""What the admin's "Preview" button shows: the digest as readers will see it."""

from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string

from digests.models import Category, Digest, Item
from digests.rendering.render import language_override, variant_render


@dataclass(frozen=True)
class PreviewSection:
    category: Category
    items: list[Item]


def digest_sections(digest: Digest) -> list[PreviewSection]:
    """The digest's items grouped by category, categories and items in reading order."""
    sections: list[PreviewSection] = []
    for item in digest.items.select_related("category").order_by("category__position", "category_id", "position", "id"):
        if not sections or sections[-1].category.pk != item.category_id:
            sections.append(PreviewSection(category=item.category, items=[]))
        sections[-1].items.append(item)
    return sections


def preview_html(
    digest: Digest, category_ids: frozenset[int] | None = None, *, text: bool = False, language: str | None = None
) -> str:
    """A complete HTML page showing the digest as a reader of ``category_ids`` gets it.

    This is the one place the admin preview gets its HTML from: the real email
    (``variant_render``) with placeholder reader links; ``text`` shows the
    plain-text part instead. A variant with no items has no email; the plain
    content page says so.
    """
    rendered = variant_render(digest, category_ids, language=language)
    if rendered is not None and not text:
        return rendered.html
    # The page around the text (its lang, the item labels) is in the email's language too.
    with language_override(language):
        if rendered is None:
            return render_to_string("admin/digests/digest/preview.html", {"digest": digest, "sections": digest_sections(digest)})
        return render_to_string("admin/digests/digest/preview_text.html", {"digest": digest, "text": rendered.text})
