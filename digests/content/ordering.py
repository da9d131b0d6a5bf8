"""The order of an issue's sections: the editor's, per issue, not one global order."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def section_rank(section_order: Iterable[int] | None) -> Callable[[object], tuple]:
    """A sort key for categories: first those in ``section_order`` (the issue's own order, category
    ids), then any others in their global order (``position``, then id)."""
    rank = {category_id: index for index, category_id in enumerate(section_order or []) if isinstance(category_id, int)}
    return lambda category: (rank.get(category.pk, len(rank)), category.position, category.pk)


def items_by_section(items: Iterable, section_order: Iterable[int] | None) -> list[tuple[object, list]]:
    """``items`` (each with a loaded ``category``, in position order) grouped as (category, items)
    pairs in the issue's section order."""
    groups: dict[int, tuple[object, list]] = {}
    for item in items:
        groups.setdefault(item.category_id, (item.category, []))[1].append(item)
    key = section_rank(section_order)
    return sorted(groups.values(), key=lambda group: key(group[0]))
