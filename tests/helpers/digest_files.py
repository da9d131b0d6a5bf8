"""Digest files for tests: the seed digest, and small files for import tests (one valid, one per kind of bad input)."""

from __future__ import annotations

from tests.helpers.paths import ROOT

SEED_PATH = ROOT / "digests" / "fixtures" / "ai-digest-2026-02-06.md"
# The harder issue: sections in a new order, inline code, links with & and parentheses,
# hostile text, an item without 背景, an image, and its own subject, preheader and 导语.
HARD_PATH = ROOT / "tests" / "fixtures" / "ai-digest-2026-02-07-hard.md"

VALID_LINES = [
    "AI 行业动态 (2026-03-01)",  # 1
    "",
    "**政策与监管**",  # 3
    "",
    "测试条目一",  # 5
    "说明：这是说明。",  # 6
    "要点：",  # 7
    "- 第一点。",  # 8
    "来源出处：[测试来源](https://example.com/a)",  # 9
]


def digest_bytes(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _replace(line_number: int, text: str) -> list[str]:
    lines = list(VALID_LINES)
    lines[line_number - 1] = text
    return lines


VALID_FILE = digest_bytes(VALID_LINES)

# Each bad file and the line its problem is reported on (0: the whole file).
BAD_FILES = {
    "missing 说明": (digest_bytes(VALID_LINES[:5] + VALID_LINES[6:]), 5),
    "item outside any section": (
        digest_bytes([VALID_LINES[0], "", *VALID_LINES[4:], "", *VALID_LINES[2:]]),
        3,
    ),
    "malformed date": (digest_bytes(_replace(1, "AI 行业动态 (2026-3-1)")), 1),
    "non-http(s) source": (digest_bytes(_replace(9, "来源出处：[测试来源](ftp://example.com/a)")), 9),
    "empty file": (b"", 0),
    "non-UTF-8 file": (
        digest_bytes(VALID_LINES[:5]) + "说明：国标编码。\n".encode("gb18030") + digest_bytes(VALID_LINES[6:]),
        6,
    ),
}


def seed_parsed(seed_bytes: bytes):
    """The seed digest as the digest format parser reads it."""
    from digests.content.digest_format import digest_parse

    return digest_parse(seed_bytes)
