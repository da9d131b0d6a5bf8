"""Read and write the plain-text format of a daily AI news digest.

A digest file looks like this (a full example is
``digests/fixtures/ai-digest-2026-02-06.md``)::

    <span style="color:#1677ff;font-size:18px;font-weight:bold;">AI 行业动态 (2026-02-06)</span>

    邮件主题：…                       (optional, the issue's subject line)
    预览文本：…                       (optional, the preheader)
    导语：…                           (optional, the introduction)

    **政策与监管**

    江苏省拟立法促进人工智能产业发展
    说明：江苏省计划……
    背景：随着人工智能……          (optional)
    要点：
    - 该条例是……
    - 立法目的在于……
    来源出处：[扬子晚报](https://www.yzwb.net/…)
    图片：![alt text](https://…)      (optional)

    （next item, next **section**, …）

``digest_parse`` is a line-oriented state machine.  It never stops at the first
mistake: it collects every problem, each with a line number and what was
expected, so an editor can fix a file in one pass.  ``digest_format`` writes
the canonical form back out.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import AnyStr
from urllib.parse import urlsplit

from digests.content import format_errors as msg
from digests.content.format_errors import DigestFormatError, Problem
from digests.content.format_fields import (
    BACKGROUND,
    DIGEST_FIELDS,
    FIELD_ORDER,
    IMAGE,
    INTRO,
    KEY_POINTS,
    PREHEADER,
    REQUIRED_FIELDS,
    SOURCE,
    SUBJECT,
    SUMMARY,
    WEEKLY,
)

__all__ = [
    "BACKGROUND",
    "DigestFormatError",
    "FIELD_ORDER",
    "HEADER_SPAN_CLOSE",
    "HEADER_SPAN_OPEN",
    "KEY_POINTS",
    "ParsedDigest",
    "ParsedItem",
    "ParsedSection",
    "Problem",
    "SOURCE",
    "SUMMARY",
    "digest_format",
    "digest_parse",
]

HEADER_SPAN_OPEN = '<span style="color:#1677ff;font-size:18px;font-weight:bold;">'
HEADER_SPAN_CLOSE = "</span>"

_COLONS = ("：", ":")
_OPEN_PARENS = ("(", "（")
_CLOSE_PARENS = (")", "）")
_BULLET_MARKERS = ("-", "*")
_ALLOWED_URL_SCHEMES = ("http", "https")
_UTF8_BOM = b"\xef\xbb\xbf"
_ASCII_DIGITS = frozenset("0123456789")


# --------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True)
class ParsedItem:
    """One news item. ``background`` is "" when the file has no 背景 line."""

    title: str
    summary: str
    background: str
    key_points: tuple[str, ...]
    source_name: str
    source_url: str
    line: int  # 1-based line of the item title
    image_url: str = ""
    image_alt: str = ""


@dataclass(frozen=True)
class ParsedSection:
    """A ``**category**`` heading and the items under it, in file order."""

    name: str
    items: tuple[ParsedItem, ...]
    line: int  # 1-based line of the heading


@dataclass(frozen=True)
class ParsedDigest:
    """A whole digest issue: header title, issue date and sections in file order."""

    title: str
    issue_date: datetime.date
    sections: tuple[ParsedSection, ...]
    subject: str = ""
    preheader: str = ""
    intro: str = ""
    # A weekly edition's first day (its last is ``issue_date``); None for a daily.
    period_start: datetime.date | None = None


# --------------------------------------------------------------------------
# Public functions


def digest_parse(source: str | bytes) -> ParsedDigest:
    """Parse a digest file.

    ``source`` is the file text, or its bytes, which must be UTF-8 (a BOM is
    allowed).  CRLF/CR line endings, surrounding whitespace on lines, ASCII
    ``:`` as well as full-width ``：`` after field labels, ASCII or full-width
    parentheses around the header date, and ``*`` as well as ``-`` bullets
    are all accepted.

    Returns the digest when the file is valid.  Otherwise raises
    ``DigestFormatError`` whose ``problems`` list *every* problem found,
    sorted by line, each saying what was expected there.
    """
    text, problems = _decode(source)
    if problems:
        raise DigestFormatError(problems)
    lines = [_classify(number, raw) for number, raw in enumerate(_split_lines(text), start=1)]
    first = next((line for line in lines if line.kind is not _Kind.BLANK), None)
    if first is None:
        raise DigestFormatError([Problem(0, msg.empty_file())])

    if first.kind is _Kind.TEXT:
        title, issue_date, problems = _parse_header(first)
        body = lines[first.number :]  # everything after the header line
    else:
        title, issue_date, problems = "", None, [Problem(first.number, msg.missing_header())]
        body = lines[first.number - 1 :]
    body, fields, field_problems = _digest_fields(body)
    period_start = None
    if WEEKLY in fields and issue_date is not None:
        period_start, weekly_problems = _parse_weekly(fields[WEEKLY], issue_date)
        field_problems += weekly_problems
    sections, body_problems = _parse_body(body)
    problems = sorted(problems + field_problems + body_problems, key=lambda problem: problem.line)
    if problems or issue_date is None:
        raise DigestFormatError(problems)
    return ParsedDigest(
        title=title,
        issue_date=issue_date,
        sections=sections,
        subject=_field_text(fields, SUBJECT),
        preheader=_field_text(fields, PREHEADER),
        intro=_field_text(fields, INTRO),
        period_start=period_start,
    )


def digest_format(digest: ParsedDigest) -> str:
    """Write ``digest`` in the canonical file format.

    The header is always wrapped in the styled ``<span>``; there is exactly one
    blank line between the header, each heading and each item, and the text
    ends with a single "\\n".  For any digest returned by ``digest_parse``,
    ``digest_parse(digest_format(d)) == d`` except for ``line`` numbers.

    Raises ``ValueError`` if a value contains a line break, because the
    result would no longer parse back to the same digest.
    """
    lines = [_format_header(digest)]
    weekly = f"{digest.period_start.isoformat()} 至 {digest.issue_date.isoformat()}" if digest.period_start else ""
    issue_fields = [(WEEKLY, weekly), (SUBJECT, digest.subject), (PREHEADER, digest.preheader), (INTRO, digest.intro)]
    issue_lines = [f"{label}：{value}" for label, value in issue_fields if value]
    if issue_lines:
        lines += ["", *issue_lines]
    for section in digest.sections:
        lines += ["", f"**{section.name}**"]
        for item in section.items:
            lines += ["", *_format_item(item)]
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ValueError(f"digest values must be single lines, got {line!r}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Formatting


def _format_header(digest: ParsedDigest) -> str:
    heading = f"{digest.title} ({digest.issue_date.isoformat()})"
    return f"{HEADER_SPAN_OPEN}{heading}{HEADER_SPAN_CLOSE}"


def _format_item(item: ParsedItem) -> list[str]:
    lines = [item.title, f"{SUMMARY}：{item.summary}"]
    if item.background:
        lines.append(f"{BACKGROUND}：{item.background}")
    lines.append(f"{KEY_POINTS}：")
    lines += [f"- {point}" for point in item.key_points]
    lines.append(f"{SOURCE}：[{item.source_name}]({item.source_url})")
    if item.image_url:
        lines.append(f"{IMAGE}：![{item.image_alt}]({item.image_url})")
    return lines


# --------------------------------------------------------------------------
# Decoding and line classification


def _decode(source: str | bytes) -> tuple[str, list[Problem]]:
    """Return the text without BOM, or a problem for every line that is not UTF-8."""
    if isinstance(source, str):
        return source.removeprefix("\ufeff"), []
    if not isinstance(source, (bytes, bytearray, memoryview)):
        raise TypeError(f"digest_parse() expects str or bytes, not {type(source).__name__}")
    raw = bytes(source).removeprefix(_UTF8_BOM)
    # Decoding line by line is exact: UTF-8 never uses the CR/LF bytes inside
    # a multi-byte character, so every bad byte belongs to one line.
    problems = [
        problem
        for number, chunk in enumerate(_split_lines(raw), start=1)
        if (problem := _utf8_problem(number, chunk)) is not None
    ]
    if problems:
        return "", problems
    return raw.decode("utf-8"), []


def _utf8_problem(number: int, chunk: bytes) -> Problem | None:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(chunk[: exc.start].decode("utf-8", errors="replace")) + 1
        return Problem(number, msg.not_utf8(chunk[exc.start], column))
    return None


def _split_lines(text: AnyStr) -> list[AnyStr]:
    # str.splitlines() would also split on \x0b, \x1c, \u2028 …, which are not
    # line breaks to an editor; only CRLF, CR and LF are.
    crlf, cr, lf = ("\r\n", "\r", "\n") if isinstance(text, str) else (b"\r\n", b"\r", b"\n")
    return text.replace(crlf, lf).replace(cr, lf).split(lf)


class _Kind(enum.Enum):
    BLANK = enum.auto()
    HEADING = enum.auto()  # **section name**
    FIELD = enum.auto()  # 说明：… / 背景：… / 要点： / 来源出处：…
    BULLET = enum.auto()  # - key point
    TEXT = enum.auto()  # anything else: the header or an item title


@dataclass(frozen=True)
class _Line:
    number: int
    kind: _Kind
    text: str  # the line without surrounding whitespace
    label: str = ""  # FIELD: one of FIELD_ORDER
    value: str = ""  # HEADING: section name; FIELD: text after the colon; BULLET: text after marker


def _classify(number: int, raw: str) -> _Line:
    text = raw.strip()
    if not text:
        return _Line(number, _Kind.BLANK, text)
    if len(text) >= 4 and text.startswith("**") and text.endswith("**"):
        return _Line(number, _Kind.HEADING, text, value=text[2:-2].strip())
    if text[0] in _BULLET_MARKERS and (len(text) == 1 or text[1].isspace()):
        return _Line(number, _Kind.BULLET, text, value=text[1:].strip())
    for label in FIELD_ORDER:
        if text.startswith(label):
            rest = text[len(label) :].lstrip()
            if rest[:1] in _COLONS and rest:
                return _Line(number, _Kind.FIELD, text, label=label, value=rest[1:].strip())
    return _Line(number, _Kind.TEXT, text)


# --------------------------------------------------------------------------
# Header


def _parse_header(line: _Line) -> tuple[str, datetime.date | None, list[Problem]]:
    inner = _unwrap_span(line.text)
    if inner is None:
        return "", None, [Problem(line.number, msg.unbalanced_span())]
    if not inner.endswith(_CLOSE_PARENS):
        return "", None, [Problem(line.number, msg.malformed_header(line.text))]
    open_at = max(inner.rfind(paren) for paren in _OPEN_PARENS)
    if open_at < 0:
        return "", None, [Problem(line.number, msg.malformed_header(line.text))]
    title = inner[:open_at].strip()
    issue_date, problems = _parse_issue_date(line.number, inner[open_at + 1 : -1].strip())
    if not title:
        problems.insert(0, Problem(line.number, msg.missing_title()))
    return title, issue_date, problems


def _unwrap_span(text: str) -> str | None:
    """The header text inside an optional <span …>…</span>; None if the tag is unbalanced."""
    lowered = text.lower()
    opens = lowered.startswith("<span") and lowered[5:6] in (">", " ")
    closes = lowered.endswith(HEADER_SPAN_CLOSE)
    if not opens and not closes:
        return text
    tag_end = text.find(">")
    if not (opens and closes) or tag_end > len(text) - len(HEADER_SPAN_CLOSE):
        return None
    return text[tag_end + 1 : -len(HEADER_SPAN_CLOSE)].strip()


def _parse_issue_date(number: int, text: str) -> tuple[datetime.date | None, list[Problem]]:
    if not _looks_like_iso_date(text):
        return None, [Problem(number, msg.date_not_iso(text))]
    try:
        return datetime.date.fromisoformat(text), []
    except ValueError:
        return None, [Problem(number, msg.date_not_real(text))]


def _looks_like_iso_date(text: str) -> bool:
    # Checked by hand because date.fromisoformat() also accepts "20260206"
    # and str.isdigit() accepts non-ASCII digits.
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return False
    return set(text[:4] + text[5:7] + text[8:]) <= _ASCII_DIGITS


# --------------------------------------------------------------------------
# Issue-wide fields (邮件主题, 预览文本, 导语) between the header and the first section


def _digest_field(line: _Line) -> tuple[str, str] | None:
    if line.kind is not _Kind.TEXT:
        return None
    for label in DIGEST_FIELDS:
        rest = line.text[len(label) :].lstrip() if line.text.startswith(label) else ""
        if rest[:1] in _COLONS and rest:
            return label, rest[1:].strip()
    return None


def _digest_fields(lines: list[_Line]) -> tuple[list[_Line], dict[str, _Line], list[Problem]]:
    """The issue-wide fields before the first section heading (each value with its line number),
    and the lines left for the body."""
    fields: dict[str, _Line] = {}
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    rest: list[_Line] = []
    for index, line in enumerate(lines):
        if line.kind is _Kind.HEADING:
            rest += lines[index:]
            break
        found = _digest_field(line)
        if found is None:
            rest.append(line)
            continue
        label, value = found
        if label in seen:
            problems.append(Problem(line.number, msg.duplicate_digest_field(label, seen[label])))
        elif not value:
            problems.append(Problem(line.number, msg.empty_digest_field(label)))
        seen.setdefault(label, line.number)
        fields.setdefault(label, _Line(line.number, _Kind.TEXT, value))
        rest.append(_Line(line.number, _Kind.BLANK, ""))
    return rest, fields, problems


def _field_text(fields: dict[str, _Line], label: str) -> str:
    return fields[label].text if label in fields else ""


_WEEKLY_RANGE = re.compile(r"^(\S+)\s*(?:至|到|–|—|~|～)\s*(\S+)$")


def _parse_weekly(field: _Line, issue_date: datetime.date) -> tuple[datetime.date | None, list[Problem]]:
    """The first day of ``周刊：<first> 至 <last>``; the last must be the header's date."""
    match = _WEEKLY_RANGE.match(field.text)
    if not match:
        return None, [Problem(field.number, msg.weekly_not_a_range(field.text))]
    days = []
    for text in match.groups():
        if not _looks_like_iso_date(text):
            return None, [Problem(field.number, msg.weekly_not_a_range(field.text))]
        try:
            days.append(datetime.date.fromisoformat(text))
        except ValueError:
            return None, [Problem(field.number, msg.weekly_date_not_real(text))]
    start, end = days
    if end != issue_date:
        return None, [Problem(field.number, msg.weekly_end_not_header(end, issue_date))]
    if start > end:
        return None, [Problem(field.number, msg.weekly_starts_after_end(start, end))]
    return start, []


# --------------------------------------------------------------------------
# Sections and blocks


def _parse_body(lines: list[_Line]) -> tuple[tuple[ParsedSection, ...], list[Problem]]:
    """Parse everything below the header into sections."""
    orphan_blocks, groups = _group_sections(_chunks(lines))
    problems: list[Problem] = []
    for block in orphan_blocks:
        entries, block_problems = _parse_block(block)
        problems += block_problems
        problems += [Problem(title.number, msg.outside_section(title.text)) for title, _item in entries]
    if not groups and not orphan_blocks:
        problems.append(Problem(0, msg.no_sections()))
    sections = []
    for heading, blocks in groups:
        section, section_problems = _parse_section(heading, blocks)
        sections.append(section)
        problems += section_problems
    return tuple(sections), problems


def _chunks(lines: Iterable[_Line]) -> Iterator[_Line | list[_Line]]:
    """Yield each heading line, and each run of other non-blank lines as a list."""
    block: list[_Line] = []
    for line in lines:
        if line.kind in (_Kind.BLANK, _Kind.HEADING) and block:
            yield block
            block = []
        if line.kind is _Kind.HEADING:
            yield line
        elif line.kind is not _Kind.BLANK:
            block.append(line)
    if block:
        yield block


def _group_sections(
    chunks: Iterable[_Line | list[_Line]],
) -> tuple[list[list[_Line]], list[tuple[_Line, list[list[_Line]]]]]:
    """Split chunks into blocks before the first heading, and (heading, blocks) pairs."""
    orphans: list[list[_Line]] = []
    groups: list[tuple[_Line, list[list[_Line]]]] = []
    for chunk in chunks:
        if isinstance(chunk, _Line):
            groups.append((chunk, []))
        elif groups:
            groups[-1][1].append(chunk)
        else:
            orphans.append(chunk)
    return orphans, groups


def _parse_section(heading: _Line, blocks: list[list[_Line]]) -> tuple[ParsedSection, list[Problem]]:
    problems: list[Problem] = []
    if not heading.value:
        problems.append(Problem(heading.number, msg.nameless_section()))
    elif not blocks:
        problems.append(Problem(heading.number, msg.empty_section(heading.value)))
    items: list[ParsedItem] = []
    for block in blocks:
        entries, block_problems = _parse_block(block)
        problems += block_problems
        items += [item for _title, item in entries if item is not None]
    return ParsedSection(name=heading.value, items=tuple(items), line=heading.number), problems


# --------------------------------------------------------------------------
# Items: the state machine


@dataclass
class _ItemDraft:
    """An item while its lines are read; discarded once turned into a ParsedItem."""

    title: _Line
    fields: dict[str, _Line] = field(default_factory=dict)
    key_points: list[str] = field(default_factory=list)
    source: tuple[str, str] | None = None
    image: tuple[str, str] = ("", "")
    position: int = -1  # index in FIELD_ORDER of the last field read
    misplaced: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return SOURCE in self.fields


def _parse_block(block: list[_Line]) -> tuple[list[tuple[_Line, ParsedItem | None]], list[Problem]]:
    """Read the items in one run of non-blank lines: (title line, item or None) each."""
    drafts: list[_ItemDraft] = []
    problems: list[Problem] = []
    for line in block:
        current = drafts[-1] if drafts else None
        if line.kind is _Kind.TEXT and (current is None or current.complete):
            # Tolerated: a finished item followed directly by the next title.
            drafts.append(_ItemDraft(title=line))
        elif current is None:
            problems.append(Problem(line.number, msg.untitled(line.label if line.kind is _Kind.FIELD else None)))
            break  # the rest of the block belongs to the same untitled item
        else:
            _read_line(current, line)
    entries = []
    for draft in drafts:
        item, item_problems = _finish(draft)
        entries.append((draft.title, item))
        problems += item_problems
    return entries, problems


def _read_line(draft: _ItemDraft, line: _Line) -> None:
    if line.kind is _Kind.FIELD:
        _read_field(draft, line)
    elif line.kind is _Kind.BULLET and draft.position == FIELD_ORDER.index(KEY_POINTS):
        _read_key_point(draft, line)
    else:
        draft.problems.append(Problem(line.number, msg.unexpected_line(draft)))


def _read_field(draft: _ItemDraft, line: _Line) -> None:
    index = FIELD_ORDER.index(line.label)
    if line.label in draft.fields:
        message = msg.duplicate_field(draft, line.label)
        draft.problems.append(Problem(line.number, message))
        return
    if index < draft.position:
        draft.misplaced.add(line.label)
        draft.problems.append(Problem(line.number, msg.misplaced_field(draft, line.label)))
        return
    draft.fields[line.label] = line
    draft.position = index
    draft.problems += _check_field_value(draft, line)


def _read_key_point(draft: _ItemDraft, line: _Line) -> None:
    if line.value:
        draft.key_points.append(line.value)
    else:
        draft.problems.append(Problem(line.number, msg.empty_key_point(draft)))


def _check_field_value(draft: _ItemDraft, line: _Line) -> list[Problem]:
    if line.label == SOURCE:
        draft.source, problems = _parse_source(draft, line)
        return problems
    if line.label == IMAGE:
        return _parse_image(draft, line)
    if line.label == KEY_POINTS:
        if line.value:
            return [Problem(line.number, msg.inline_key_points(draft))]
        return []
    if not line.value:
        return [Problem(line.number, msg.empty_field(draft, line.label))]
    return []


def _parse_source(draft: _ItemDraft, line: _Line) -> tuple[tuple[str, str] | None, list[Problem]]:
    value = line.value
    split_at = value.find("](")
    if not (value.startswith("[") and value.endswith(")") and split_at > 0):
        return None, [Problem(line.number, msg.source_not_link(draft, value))]
    name = value[1:split_at].strip()
    url = value[split_at + 2 : -1].strip()
    problems = []
    if not name:
        problems.append(Problem(line.number, msg.source_without_name(draft)))
    url_message = _url_problem(draft, url)
    if url_message:
        problems.append(Problem(line.number, url_message))
    return (None if problems else (name, url)), problems


def _parse_image(draft: _ItemDraft, line: _Line) -> list[Problem]:
    value = line.value
    split_at = value.find("](")
    if not (value.startswith("![") and value.endswith(")") and split_at > 0):
        return [Problem(line.number, msg.image_not_link(draft, value))]
    alt = value[2:split_at].strip()
    url = value[split_at + 2 : -1].strip()
    if _url_problem(draft, url):
        return [Problem(line.number, msg.bad_image_url(draft, url))]
    draft.image = (alt, url)
    return []


def _url_problem(draft: _ItemDraft, url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) link with a host, or None if it is."""
    if not url or any(char.isspace() for char in url):
        return msg.bad_url(draft, url)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return msg.bad_url(draft, url)
    if parts.scheme.lower() not in _ALLOWED_URL_SCHEMES:
        return msg.bad_url(draft, url)
    if not host:
        return msg.url_without_host(draft, url)
    return None


def _finish(draft: _ItemDraft) -> tuple[ParsedItem | None, list[Problem]]:
    problems = list(draft.problems)
    title_line = draft.title.number
    problems += [
        Problem(title_line, msg.missing_field(draft, label))
        for label in REQUIRED_FIELDS
        # A misplaced field was already reported; calling it missing too is noise.
        if label not in draft.fields and label not in draft.misplaced
    ]
    key_points_line = draft.fields.get(KEY_POINTS)
    if key_points_line is not None and not draft.key_points:
        problems.append(Problem(key_points_line.number, msg.no_key_points(draft)))
    if problems or draft.source is None:
        return None, problems
    background = draft.fields.get(BACKGROUND)
    item = ParsedItem(
        title=draft.title.text,
        summary=draft.fields[SUMMARY].value,
        background=background.value if background else "",
        key_points=tuple(draft.key_points),
        source_name=draft.source[0],
        source_url=draft.source[1],
        line=title_line,
        image_alt=draft.image[0],
        image_url=draft.image[1],
    )
    return item, []
