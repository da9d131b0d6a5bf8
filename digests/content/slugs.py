"""ASCII slugs for category names, Chinese included.

Django's ``slugify`` drops every CJK character (政策与监管 becomes ""), so Chinese
names are transliterated to pinyin first: 政策与监管 -> zheng-ce-yu-jian-guan.
"""

from django.utils.text import slugify

MAX_LENGTH = 100


def slug_from_name(name: str) -> str:
    """Return an ASCII, URL-safe slug for ``name``; never empty."""
    # Imported here, not at the top: its phrase dictionary takes ~1 s of CPU to load, and every
    # process (each worker, each manage.py command) imports this module with the models.
    from pypinyin import lazy_pinyin

    slug = slugify(" ".join(lazy_pinyin(name, errors="default")))[:MAX_LENGTH].strip("-")
    return slug or "category"


def slug_unique(base: str, taken) -> str:
    """Return ``base`` or ``base-2``, ``base-3``… whichever ``taken(slug)`` says is free."""
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        suffix = f"-{n}"
        candidate = base[: MAX_LENGTH - len(suffix)] + suffix
    return candidate
