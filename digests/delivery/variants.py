"""A variant is the set of categories a reader gets; the ledger stores it as a short key."""

from __future__ import annotations

from collections.abc import Iterable


def variant_key(category_ids: Iterable[int]) -> str:
    """``{3, 1}`` → ``"1,3"``: the same set always gives the same key."""
    return ",".join(str(i) for i in sorted(category_ids))


def variant_ids(key: str) -> frozenset[int]:
    return frozenset(int(part) for part in key.split(",") if part)
