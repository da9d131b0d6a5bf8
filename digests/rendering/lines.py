"""Line lengths: SMTP allows 998 bytes per line, terminals want about 78 columns.

Django sends a body as 8bit only when every line fits in 998 bytes, otherwise as
quoted-printable, which makes Chinese text about 60% bigger (and Gmail clips at
~102 KB). So the HTML is kept line-broken at invisible points, and the plain
text is wrapped by display width (a CJK character is two columns wide).
"""

from __future__ import annotations

import re

from wcwidth import wcswidth, wcwidth

HTML_LINE_LIMIT = 900  # bytes, safely under RFC 5322's 998
SMTP_LINE_LIMIT = 998  # bytes, RFC 5322
# Room kept on a line for each reader link filled in after the check (a signed URL, escaped).
SLOT_ALLOWANCE = 300
TEXT_WIDTH = 76  # columns

# Characters a line should not start with (CJK closing punctuation and friends).
_NO_LINE_START = set("，。、；：！？）》」』】〕…—,.;:!?)]}%·")


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _break_point(line: str, limit: int) -> tuple[int, str]:
    """Where to break ``line`` so its head fits in ``limit`` bytes, and what to put there.

    Prefers whitespace outside attribute values (it becomes the newline, which
    HTML treats the same), then a point inside a tag just before an attribute or
    its closing '>', and as a last resort inserts a newline within a tag name's
    markup (``<wbr\\n>``) between two text characters.
    """
    in_tag = False
    quote = ""
    used = 0
    last_space = -1
    last_tag_gap = -1
    last_text = -1
    in_entity = False
    for index, char in enumerate(line):
        used += _byte_len(char)
        if used > limit:
            break
        if in_tag:
            if quote:
                if char == quote:
                    quote = ""
            elif char in "\"'":
                quote = char
            elif char == ">":
                in_tag = False
                last_tag_gap = index  # before the '>'
            elif char.isspace():
                last_space = index
        else:
            if char == "<":
                in_tag = True
            elif char == "&":
                in_entity = True
            elif in_entity:
                in_entity = char != ";" and (char.isalnum() or char == "#")
            elif char.isspace():
                last_space = index
            elif index > 0:
                last_text = index
    if last_space > 0:
        return last_space, "space"
    if last_tag_gap > 0:
        return last_tag_gap, "tag"
    if last_text > 0:
        return last_text, "text"
    return -1, ""


def _fold_html_line(line: str, limit: int) -> list[str]:
    pieces = []
    while _byte_len(line) > limit:
        at, kind = _break_point(line, limit)
        if at < 0:
            break
        if kind == "space":
            pieces.append(line[:at])
            line = line[at + 1 :]
        elif kind == "tag":
            pieces.append(line[:at])
            line = line[at:]
        else:
            pieces.append(line[:at] + "<wbr")
            line = ">" + line[at:]
    pieces.append(line)
    return pieces


def html_fold_lines(html: str, limit: int = HTML_LINE_LIMIT) -> str:
    """``html`` with every line at most ``limit`` UTF-8 bytes, rendering unchanged."""
    if all(_byte_len(line) <= limit for line in html.split("\n")):
        return html
    out: list[str] = []
    for line in html.split("\n"):
        out.extend(_fold_html_line(line, limit) if _byte_len(line) > limit else [line])
    return "\n".join(out)


def body_fits_8bit(text: str, *, slots_per_line=lambda line: 0) -> bool:
    """True when ``text`` can travel as 8bit: every line within 998 bytes, leaving room on each
    line for the reader links ``slots_per_line(line)`` says will be filled in there."""
    return all(
        _byte_len(line) + SLOT_ALLOWANCE * slots_per_line(line) <= SMTP_LINE_LIMIT
        for line in text.replace("\r\n", "\n").split("\n")
    )


def text_width(text: str) -> int:
    """Display columns of ``text`` in a terminal (a CJK character takes two)."""
    width = wcswidth(text)
    # wcswidth gives -1 for text with control characters; count those as zero wide.
    return width if width >= 0 else sum(max(wcwidth(c), 0) for c in text)


_TOKEN = re.compile(r"\s+|[^\s]", re.UNICODE)


def _tokens(text: str) -> list[str]:
    """Words (runs of narrow non-space characters), single wide characters and spaces."""
    tokens: list[str] = []
    word = ""
    for char in text:
        if char.isspace():
            if word:
                tokens.append(word)
                word = ""
            tokens.append(" ")
        elif wcwidth(char) == 2:
            if word:
                tokens.append(word)
                word = ""
            tokens.append(char)
        else:
            word += char
    if word:
        tokens.append(word)
    return tokens


def _wrap_line(line: str, width: int) -> list[str]:
    if text_width(line) <= width:
        return [line]
    match = re.match(r"^(\s*(?:[-*•]\s+)?)", line)
    lead = match.group(1) if match else ""
    indent = " " * text_width(lead)
    lines: list[str] = []
    current = lead
    current_width = text_width(lead)
    for token in _tokens(line[len(lead) :]):
        token_width = text_width(token)
        if token == " ":
            if current_width + 1 <= width and current.strip():
                current += " "
                current_width += 1
            continue
        fits = current_width + token_width <= width
        # Keep closing punctuation on the line it closes, even if it overhangs.
        if fits or token[0] in _NO_LINE_START or not current.strip():
            current += token
            current_width += token_width
            continue
        lines.append(current.rstrip())
        current = indent + token
        current_width = len(indent) + token_width
    lines.append(current.rstrip())
    return lines


def text_wrap(text: str, width: int = TEXT_WIDTH) -> str:
    """Plain text wrapped to ``width`` columns; URLs and words are never split; list items hang-indented."""
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(_wrap_line(line.rstrip(), width))
    return "\n".join(out)
