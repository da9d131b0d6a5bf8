"""The digest change form's POST body, as the admin page would send it."""

from __future__ import annotations

from digests.models import Digest, Item


def ordered_items(digest: Digest) -> list[Item]:
    return list(digest.items.select_related("category").order_by("category__position", "category_id", "position", "id"))


def change_form_data(digest: Digest, **item_changes: dict) -> dict:
    """The POST body of the change form as the page shows it, with ``{item_pk: {field: value}}`` edits."""
    items = ordered_items(digest)
    data = {
        "issue_date": digest.issue_date.isoformat(),
        "title": digest.title,
        "preheader": digest.preheader,
        "intro": digest.intro,
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": str(len(items)),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "_continue": "Save and continue editing",
    }
    for index, item in enumerate(items):
        values = {
            "id": item.pk,
            "digest": digest.pk,
            "category": item.category_id,
            "position": item.position,
            "title": item.title,
            "summary": item.summary,
            "background": item.background,
            "key_points": "\n".join(item.key_points),
            "source_name": item.source_name,
            "source_url": item.source_url,
            **item_changes.get(str(item.pk), {}),
        }
        data.update({f"items-{index}-{name}": value for name, value in values.items()})
    return data
