"""Who will receive a digest, before its ledger exists: the same rule as the snapshot, counted in SQL.

A reader receives the digest when they are active and at least one of their
categories has an item in it (a reader who chose no category gets every
category); their variant is that intersection. ``deliveries_snapshot`` writes
exactly these rows, so the count shown before a send is the ledger's after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from digests.delivery.variants import variant_key
from digests.models import Item, Subscriber


@dataclass(frozen=True)
class Audience:
    recipients: int = 0
    skipped: int = 0
    by_variant: dict[str, int] = field(default_factory=dict)


def digest_audience(*, digest) -> Audience:
    """The active readers who will receive ``digest`` (and per variant key), with one grouped query.

    Each reader's categories that the digest has are summed as a bit mask per
    reader, then readers are counted per mask: the database returns one row
    per variant, however many readers there are.
    """
    categories = sorted(set(Item.objects.filter(digest=digest).values_list("category_id", flat=True)))
    through = Subscriber.categories.through._meta
    subscribers = Subscriber._meta.db_table
    bits = " ".join(f"WHEN {int(pk)} THEN {1 << index}" for index, pk in enumerate(categories))
    mask = f"CASE t.category_id {bits} ELSE 0 END" if categories else "0"
    sql = f"""
        SELECT chosen > 0, mask, COUNT(*) FROM (
            SELECT s.id, COUNT(t.category_id) AS chosen, COALESCE(SUM({mask}), 0) AS mask
            FROM {subscribers} s LEFT JOIN {through.db_table} t ON t.subscriber_id = s.id
            WHERE s.status = %s
            GROUP BY s.id
        ) readers
        GROUP BY chosen > 0, mask
    """
    everything = (1 << len(categories)) - 1
    by_variant: dict[str, int] = {}
    skipped = 0
    with connection.cursor() as cursor:
        cursor.execute(sql, [Subscriber.Status.ACTIVE])
        for has_choice, bitmask, count in cursor.fetchall():
            bitmask = int(bitmask) if has_choice else everything
            if not bitmask:
                skipped += count
                continue
            key = variant_key(pk for index, pk in enumerate(categories) if bitmask & (1 << index))
            by_variant[key] = by_variant.get(key, 0) + count
    return Audience(recipients=sum(by_variant.values()), skipped=skipped, by_variant=by_variant)
