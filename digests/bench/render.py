"""Measure the two costs of sending a digest: inlining each variant once, personalising each reader's copy."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from digests.links import ReaderLinks
from digests.models import Digest
from digests.rendering.inline import premailer_calls, variant_inlined, variants_forget
from digests.rendering.personalise import email_personalise
from digests.rendering.sections import digest_content


@dataclass(frozen=True)
class BenchResult:
    variants: int
    readers: int
    inline_seconds: tuple[float, ...]
    personalise_seconds: float
    premailer_calls: int

    @property
    def personalise_per_second(self) -> float:
        return self.readers / self.personalise_seconds if self.personalise_seconds else float("inf")

    @property
    def personalise_microseconds(self) -> float:
        return self.personalise_seconds / self.readers * 1e6 if self.readers else 0.0


def variant_category_sets(digest: Digest, count: int) -> list[frozenset[int] | None]:
    """``count`` distinct category sets with items: the full digest, each single category, then pairs, triples…"""
    ids = [section.category_id for section in digest_content(digest).sections]
    sets: list[frozenset[int] | None] = [None]
    for size in range(1, len(ids) + 1):
        for combo in itertools.combinations(ids, size):
            if len(sets) >= count:
                return sets
            if size < len(ids):
                sets.append(frozenset(combo))
    return sets[:count]


def render_bench(digest: Digest, *, readers: int, variants: int) -> BenchResult:
    """Inline ``variants`` variants cold, then personalise ``readers`` copies spread over them."""
    variants_forget()
    calls_before = premailer_calls()
    category_sets = variant_category_sets(digest, variants)
    inline_seconds = []
    rendered = []
    for category_ids in category_sets:
        started = time.perf_counter()
        rendered.append(variant_inlined(digest, category_ids))
        inline_seconds.append(time.perf_counter() - started)

    started = time.perf_counter()
    for index in range(readers):
        # What the sender does per reader: fetch the cached variant, fill in links.
        variant = variant_inlined(digest, category_sets[index % len(category_sets)])
        email_personalise(
            variant,
            ReaderLinks(
                preferences_url=f"https://news.example.com/p/{index:08d}.signature/",
                unsubscribe_url=f"https://news.example.com/u/{index:08d}.signature/",
                reader_ref=f"{index:08d}.signature",
            ),
        )
    personalise_seconds = time.perf_counter() - started
    return BenchResult(
        variants=len(category_sets),
        readers=readers,
        inline_seconds=tuple(inline_seconds),
        personalise_seconds=personalise_seconds,
        premailer_calls=premailer_calls() - calls_before,
    )
