"""What the digest text format's parser says about a file: each problem's line and message.

Messages are built by functions so gettext runs when a problem is reported, in
the language active at that moment. ``draft`` arguments are the parser's item
in progress: its ``title`` line, the ``fields`` read so far and the
``position`` reached in the field order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from digests.content.format_fields import (
    BACKGROUND,
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

_PREVIEW_LENGTH = 20
_LONG_PREVIEW_LENGTH = 60  # for quoted lines and URLs, which need more context
_HEADER_EXAMPLE = "AI 行业动态 (2026-02-06)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a digest file. ``line`` is 1-based; 0 means the whole file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class DigestFormatError(ValueError):
    """Raised by ``digest_parse``; ``problems`` lists every problem found, in line order."""

    problems: list[Problem]

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __reduce__(self) -> tuple[type[DigestFormatError], tuple[list[Problem]]]:
        # The default reduce would call __init__ with the joined message;
        # keep the structured problems when the error crosses a process (Celery).
        return (type(self), (self.problems,))


def _preview(text: str, limit: int = _PREVIEW_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field_name(label: str) -> str:
    """The Chinese label with an English gloss, e.g. '说明 (summary)'."""
    meanings = {
        SUMMARY: _("summary"),
        BACKGROUND: _("background"),
        KEY_POINTS: _("key points"),
        SOURCE: _("source"),
        IMAGE: _("image"),
        SUBJECT: _("subject"),
        PREHEADER: _("preheader"),
        INTRO: _("introduction"),
        WEEKLY: _("weekly edition"),
    }
    meaning = str(meanings[label])
    # In Chinese the gloss would repeat the label.
    return label if meaning == label else f"{label} ({meaning})"


def _line_start(label: str) -> str:
    return f"“{label}：”"


def empty_file() -> str:
    return _(
        "the file is empty; expected a header line like “%(example)s” followed by “**section**” headings and their items"
    ) % {"example": _HEADER_EXAMPLE}


def missing_header() -> str:
    return _("missing header line; expected the first line to be “<title> (YYYY-MM-DD)”, e.g. “%(example)s”") % {
        "example": _HEADER_EXAMPLE
    }


def not_utf8(byte: int, column: int) -> str:
    return _(
        "this line is not valid UTF-8 (byte 0x%(byte)02x at column %(column)d); expected the file to be saved as UTF-8 text"
    ) % {"byte": byte, "column": column}


def date_not_iso(text: str) -> str:
    return _("the header date “%(date)s” is not in YYYY-MM-DD form; expected e.g. “2026-02-06”") % {"date": _preview(text)}


def date_not_real(text: str) -> str:
    return _("the header date “%(date)s” is not a real calendar date; expected a valid YYYY-MM-DD date, e.g. “2026-02-06”") % {
        "date": text
    }


def malformed_header(text: str) -> str:
    return _("expected the header line “<title> (YYYY-MM-DD)”, e.g. “%(example)s”; got “%(got)s”") % {
        "example": _HEADER_EXAMPLE,
        "got": _preview(text, _LONG_PREVIEW_LENGTH),
    }


def missing_title() -> str:
    return _("the header has no title before the date; expected “<title> (YYYY-MM-DD)”, e.g. “%(example)s”") % {
        "example": _HEADER_EXAMPLE
    }


def unbalanced_span() -> str:
    return _("the header line has an unbalanced <span> tag; expected “%(example)s”, optionally wrapped in <span …>…</span>") % {
        "example": _HEADER_EXAMPLE
    }


def no_sections() -> str:
    return _("the digest has no sections; expected a “**section name**” heading followed by items")


def nameless_section() -> str:
    return _("the section heading has no name; expected “**section name**”, e.g. “**政策与监管**”")


def empty_section(name: str) -> str:
    return _(
        "section “%(section)s” has no items; expected at least one item (a title line, then "
        "说明：, 要点： with bullets, and 来源出处：) under the heading"
    ) % {"section": _preview(name)}


def outside_section(title: str) -> str:
    return _("item “%(title)s” is outside any section; expected a “**section name**” heading above it") % {
        "title": _preview(title)
    }


def untitled(label: str | None) -> str:
    """For a field line (``label``) or a bullet (None) with no item title above it."""
    what = _field_name(label) if label else _("bullet point")
    return _("%(what)s has no item title above it; expected the item title on the line before it") % {"what": what}


def _expected_next(draft) -> str:
    """What may come next after the fields read so far, e.g. '“背景：” or “要点：”'."""
    options = []
    if draft.position >= FIELD_ORDER.index(SOURCE):
        # Only the optional 图片 may follow the source; say what is usual.
        return _("a blank line before the next item")
    if draft.position == FIELD_ORDER.index(KEY_POINTS):
        options.append(_("a bullet starting with “- ”"))
    for label in FIELD_ORDER[draft.position + 1 :]:
        options.append(_line_start(label))
        if label in REQUIRED_FIELDS:
            break  # later fields cannot come before this one anyway
    if not options:
        return _("a blank line before the next item")
    return _(" or ").join(options)


def unexpected_line(draft) -> str:
    return _("unexpected line in item “%(title)s”; expected %(expected)s") % {
        "title": _preview(draft.title.text),
        "expected": _expected_next(draft),
    }


def duplicate_field(draft, label: str) -> str:
    return _("duplicate %(field)s in item “%(title)s”; it was already given on line %(first)d") % {
        "field": _field_name(label),
        "title": _preview(draft.title.text),
        "first": draft.fields[label].number,
    }


def misplaced_field(draft, label: str) -> str:
    last = FIELD_ORDER[draft.position]
    return _(
        "%(field)s is in the wrong place in item “%(title)s”; it must come before %(last)s "
        "(field order: 说明, 背景, 要点, 来源出处)"
    ) % {"field": _field_name(label), "title": _preview(draft.title.text), "last": _line_start(last)}


def missing_field(draft, label: str) -> str:
    if label == KEY_POINTS:
        expected = _("a line “要点：” followed by one or more lines starting with “- ”")
    elif label == SOURCE:
        expected = _("a line like “来源出处：[name](https://…)”")
    else:
        expected = _("a line starting with %(start)s") % {"start": _line_start(label)}
    return _("item “%(title)s” is missing %(field)s; expected %(expected)s") % {
        "title": _preview(draft.title.text),
        "field": _field_name(label),
        "expected": expected,
    }


def empty_field(draft, label: str) -> str:
    return _("%(field)s of item “%(title)s” is empty; expected text after %(start)s") % {
        "field": _field_name(label),
        "title": _preview(draft.title.text),
        "start": _line_start(label),
    }


def inline_key_points(draft) -> str:
    return _(
        "text after “要点：” in item “%(title)s”; expected “要点：” alone on its line "
        "with each key point on its own line starting with “- ”"
    ) % {"title": _preview(draft.title.text)}


def no_key_points(draft) -> str:
    return _(
        "要点 (key points) of item “%(title)s” has no bullets; expected one or more lines starting with “- ” below “要点：”"
    ) % {"title": _preview(draft.title.text)}


def empty_key_point(draft) -> str:
    return _("empty key point in item “%(title)s”; expected text after “- ”") % {"title": _preview(draft.title.text)}


def source_not_link(draft, value: str) -> str:
    return _(
        "来源出处 (source) of item “%(title)s” is not a Markdown link; expected “来源出处：[name](https://…)”, got “%(got)s”"
    ) % {"title": _preview(draft.title.text), "got": _preview(value, _LONG_PREVIEW_LENGTH)}


def source_without_name(draft) -> str:
    return _("来源出处 (source) of item “%(title)s” has no name; expected “来源出处：[name](https://…)”") % {
        "title": _preview(draft.title.text)
    }


def bad_url(draft, url: str) -> str:
    return _(
        "来源出处 (source) of item “%(title)s” links to “%(url)s”; "
        "expected an http:// or https:// URL, e.g. “[name](https://example.com/…)”"
    ) % {"title": _preview(draft.title.text), "url": _preview(url, _LONG_PREVIEW_LENGTH)}


def url_without_host(draft, url: str) -> str:
    return _(
        "来源出处 (source) of item “%(title)s” links to “%(url)s”, which has no host; expected e.g. “https://example.com/…”"
    ) % {"title": _preview(draft.title.text), "url": _preview(url, _LONG_PREVIEW_LENGTH)}


def image_not_link(draft, value: str) -> str:
    return _(
        "图片 (image) of item “%(title)s” is not a Markdown image; expected “图片：![alt text](https://…)”, got “%(got)s”"
    ) % {"title": _preview(draft.title.text), "got": _preview(value, _LONG_PREVIEW_LENGTH)}


def bad_image_url(draft, url: str) -> str:
    return _("图片 (image) of item “%(title)s” links to “%(url)s”; expected an http:// or https:// URL with a host") % {
        "title": _preview(draft.title.text),
        "url": _preview(url, _LONG_PREVIEW_LENGTH),
    }


def duplicate_digest_field(label: str, first: int) -> str:
    return _("duplicate %(field)s; it was already given on line %(first)d") % {"field": _field_name(label), "first": first}


def empty_digest_field(label: str) -> str:
    return _("%(field)s is empty; expected text after %(start)s") % {"field": _field_name(label), "start": _line_start(label)}


def weekly_not_a_range(text: str) -> str:
    return _("“%(text)s” is not a range of days; expected e.g. “%(example)s”") % {
        "text": _preview(text),
        "example": f"{WEEKLY}：2026-02-01 至 2026-02-07",
    }


def weekly_date_not_real(text: str) -> str:
    return _("“%(date)s” in %(field)s is not a real calendar date; expected a valid YYYY-MM-DD date") % {
        "date": _preview(text),
        "field": _field_name(WEEKLY),
    }


def weekly_end_not_header(end, issue_date) -> str:
    return _("%(field)s ends on %(end)s but the header is dated %(date)s; a weekly edition is dated by its last day") % {
        "field": _field_name(WEEKLY),
        "end": end.isoformat(),
        "date": issue_date.isoformat(),
    }


def weekly_starts_after_end(start, end) -> str:
    return _("%(field)s starts on %(start)s, after its last day %(end)s") % {
        "field": _field_name(WEEKLY),
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
