"""Spec for digests.content.digest_format: reading and writing the plain-text digest format."""

from __future__ import annotations

import datetime
import pickle

import pytest

from digests.content.digest_format import (
    DigestFormatError,
    ParsedDigest,
    ParsedItem,
    ParsedSection,
    Problem,
    digest_format,
    digest_parse,
)
from tests.helpers.digest_files import SEED_PATH

# These tests read English messages; the default language's translations must not change them.
pytestmark = pytest.mark.usefixtures("english")


STYLED_SPAN = '<span style="color:#1677ff;font-size:18px;font-weight:bold;">'
HEADER = "AI 行业动态 (2026-02-06)"
SECTION = "**政策与监管**"
TITLE = "江苏省拟立法促进人工智能产业发展"
SUMMARY = "说明：江苏省计划立法。"
BACKGROUND = "背景：各地重视立法。"
KEY_POINTS = ("要点：", "- 第一点。", "- 第二点。")
SOURCE = "来源出处：[扬子晚报](https://www.yzwb.net/a.html)"


def doc(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def valid_doc() -> str:
    # Line numbers: 1 header, 3 section, 5 title, 6 说明, 7 背景, 8 要点, 9-10 bullets, 11 source.
    return doc(HEADER, "", SECTION, "", TITLE, SUMMARY, BACKGROUND, *KEY_POINTS, SOURCE)


def problems_in(source: str | bytes) -> list[str]:
    with pytest.raises(DigestFormatError) as info:
        digest_parse(source)
    return [str(problem) for problem in info.value.problems]


def only_problem(source: str | bytes) -> str:
    problems = problems_in(source)
    assert len(problems) == 1, problems
    return problems[0]


@pytest.fixture
def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# Reading the real seed file


def test_it_reads_the_seed_header(seed_text):
    digest = digest_parse(seed_text)

    assert digest.title == "AI 行业动态"
    assert digest.issue_date == datetime.date(2026, 2, 6)


def test_it_reads_the_seed_sections_in_file_order(seed_text):
    digest = digest_parse(seed_text)

    assert [(section.name, len(section.items), section.line) for section in digest.sections] == [
        ("政策与监管", 2, 3),
        ("模型与技术进展", 5, 21),
        ("产品与应用发布", 1, 64),
        ("投融资与并购", 3, 74),
        ("行业落地与生态", 3, 100),
    ]


def test_it_reads_every_field_of_a_seed_item(seed_text):
    first = digest_parse(seed_text).sections[0].items[0]

    assert first == ParsedItem(
        title="江苏省拟立法促进人工智能产业发展",
        summary=(
            "江苏省计划将《人工智能产业发展促进条例》纳入2026年度正式立法项目，"
            "旨在通过地方性法规为AI产业的健康、有序发展提供法治保障。"
        ),
        background=(
            "随着人工智能技术的快速发展，各地政府日益重视通过立法来引导和规范产业发展，以抢占新一轮科技革命和产业变革的制高点。"
        ),
        key_points=(
            "该条例是江苏省2026年拟安排的13件正式立法项目之一。",
            "立法目的在于促进AI产业发展，营造良好发展环境。",
        ),
        source_name="扬子晚报",
        source_url="https://www.yzwb.net/news/jiangsu/202602/t20260205_319311.html",
        line=5,
    )


def test_it_keeps_items_with_three_key_points_and_http_sources(seed_text):
    item = digest_parse(seed_text).sections[1].items[0]

    assert item.title == "国内基础大模型密集发布新技术"
    assert len(item.key_points) == 3
    assert item.source_url.startswith("http://www.news.cn/")
    assert item.line == 23


def test_formatting_the_parsed_seed_gives_back_the_seed_file(seed_text):
    assert digest_format(digest_parse(seed_text)) == seed_text


def test_it_reads_the_seed_as_utf8_bytes_with_a_bom(seed_text):
    from_bytes = digest_parse(b"\xef\xbb\xbf" + seed_text.encode("utf-8"))

    assert from_bytes == digest_parse(seed_text)


def test_it_reads_the_seed_with_crlf_and_cr_line_endings(seed_text):
    expected = digest_parse(seed_text)

    assert digest_parse(seed_text.replace("\n", "\r\n")) == expected
    assert digest_parse(seed_text.replace("\n", "\r")) == expected


def test_it_tolerates_trailing_whitespace(seed_text):
    padded = "\n".join(line + " \t" for line in seed_text.split("\n"))

    assert digest_parse(padded) == digest_parse(seed_text)


# --------------------------------------------------------------------------
# Tolerated variations


def test_it_reads_a_minimal_valid_digest():
    digest = digest_parse(valid_doc())

    assert digest == ParsedDigest(
        title="AI 行业动态",
        issue_date=datetime.date(2026, 2, 6),
        sections=(
            ParsedSection(
                name="政策与监管",
                line=3,
                items=(
                    ParsedItem(
                        title=TITLE,
                        summary="江苏省计划立法。",
                        background="各地重视立法。",
                        key_points=("第一点。", "第二点。"),
                        source_name="扬子晚报",
                        source_url="https://www.yzwb.net/a.html",
                        line=5,
                    ),
                ),
            ),
        ),
    )


def test_it_accepts_the_header_with_or_without_the_styled_span():
    plain = digest_parse(valid_doc())
    styled = digest_parse(valid_doc().replace(HEADER, f"{STYLED_SPAN}{HEADER}</span>"))

    assert styled == plain


@pytest.mark.parametrize("header", ["AI 行业动态（2026-02-06）", "AI 行业动态 （2026-02-06)", "AI 行业动态(2026-02-06)"])
def test_it_accepts_ascii_or_full_width_parentheses_in_the_header(header):
    digest = digest_parse(valid_doc().replace(HEADER, header))

    assert (digest.title, digest.issue_date) == ("AI 行业动态", datetime.date(2026, 2, 6))


def test_it_accepts_ascii_colons_after_labels():
    text = doc(
        HEADER, "", SECTION, "", TITLE,
        "说明:江苏省计划立法。", "背景: 各地重视立法。", "要点:", "- 第一点。", "- 第二点。",
        "来源出处:[扬子晚报](https://www.yzwb.net/a.html)",
    )  # fmt: skip

    assert digest_parse(text) == digest_parse(valid_doc())


def test_it_accepts_star_bullets():
    text = valid_doc().replace("- 第一点。", "* 第一点。")

    assert digest_parse(text) == digest_parse(valid_doc())


def test_background_is_empty_when_the_item_has_none():
    item = digest_parse(valid_doc().replace(BACKGROUND + "\n", "")).sections[0].items[0]

    assert item.background == ""


def test_it_skips_blank_lines_before_the_header():
    digest = digest_parse("\n\n" + valid_doc())

    assert digest.sections[0].line == 5


def test_a_title_right_after_a_finished_item_starts_the_next_item():
    text = doc(HEADER, "", SECTION, "", TITLE, SUMMARY, *KEY_POINTS, SOURCE, "第二条", SUMMARY, *KEY_POINTS, SOURCE)

    items = digest_parse(text).sections[0].items

    assert [(item.title, item.line) for item in items] == [(TITLE, 5), ("第二条", 11)]


def test_a_title_that_merely_starts_with_a_label_is_still_a_title():
    text = valid_doc().replace(TITLE, "说明书新规发布")

    assert digest_parse(text).sections[0].items[0].title == "说明书新规发布"


def test_a_source_url_may_contain_parentheses():
    url = "https://en.wikipedia.org/wiki/Qwen_(model)"
    text = valid_doc().replace("https://www.yzwb.net/a.html", url)

    assert digest_parse(text).sections[0].items[0].source_url == url


# --------------------------------------------------------------------------
# Writing


def test_format_always_writes_the_styled_header_line():
    written = digest_format(digest_parse(valid_doc()))

    assert written.splitlines()[0] == f"{STYLED_SPAN}{HEADER}</span>"


def test_format_writes_the_seed_layout_and_ends_with_one_newline():
    written = digest_format(digest_parse(valid_doc()))

    assert written == doc(f"{STYLED_SPAN}{HEADER}</span>", "", SECTION, "", TITLE, SUMMARY, BACKGROUND, *KEY_POINTS, SOURCE)
    assert not written.endswith("\n\n")


def test_format_leaves_out_the_background_line_when_there_is_none():
    digest = digest_parse(valid_doc().replace(BACKGROUND + "\n", ""))

    assert "背景" not in digest_format(digest)


def test_format_normalises_tolerated_variations():
    sloppy = valid_doc().replace("说明：", "说明: ").replace("- 第一点。", "*   第一点。  ").replace("\n", "\r\n")

    written = digest_format(digest_parse(sloppy))

    assert written == digest_format(digest_parse(valid_doc()))


def test_format_refuses_values_with_line_breaks():
    digest = digest_parse(valid_doc())
    item = digest.sections[0].items[0]
    broken_item = ParsedItem(**{**item.__dict__, "summary": "第一行\n第二行"})
    broken = ParsedDigest(digest.title, digest.issue_date, (ParsedSection("政策与监管", (broken_item,), 3),))

    with pytest.raises(ValueError, match="single lines"):
        digest_format(broken)


# --------------------------------------------------------------------------
# Problems and the error type


def test_a_problem_reads_as_line_number_and_message():
    assert str(Problem(12, "something is wrong")) == "line 12: something is wrong"


def test_the_error_is_a_value_error_listing_one_problem_per_line():
    error = DigestFormatError([Problem(1, "first"), Problem(5, "second")])

    assert isinstance(error, ValueError)
    assert str(error) == "line 1: first\nline 5: second"


def test_the_error_keeps_its_problems_when_pickled():
    error = DigestFormatError([Problem(3, "bad")])

    restored = pickle.loads(pickle.dumps(error))

    assert restored.problems == [Problem(3, "bad")]
    assert str(restored) == "line 3: bad"


# --------------------------------------------------------------------------
# Whole-file and header errors


@pytest.mark.parametrize("source", ["", "   \n\t\n", b"", b"\xef\xbb\xbf\n \n"])
def test_it_reports_an_empty_file(source):
    problem = only_problem(source)

    assert problem.startswith("line 0: the file is empty; expected a header line like")


def test_it_reports_each_line_that_is_not_utf8():
    source = valid_doc().encode("utf-8").replace("第一点".encode(), "第一点".encode("gbk"))
    source = source.replace(TITLE.encode(), TITLE.encode("gb18030"))

    problems = problems_in(source)

    assert [problem.split(":")[0] for problem in problems] == ["line 5", "line 9"]
    assert all("not valid UTF-8" in problem for problem in problems)
    assert "expected the file to be saved as UTF-8" in problems[0]


def test_it_reports_non_utf8_on_the_right_line_with_crlf_endings():
    source = valid_doc().replace("\n", "\r\n").encode("utf-8").replace(b"\xe8\xaf\xb4\xe6\x98\x8e", b"\xff\xfe")

    assert only_problem(source).startswith("line 6: this line is not valid UTF-8 (byte 0xff at column 1)")


def test_it_reports_a_missing_header_line():
    text = valid_doc().replace(HEADER + "\n\n", "")

    assert only_problem(text) == (
        "line 1: missing header line; expected the first line to be “<title> (YYYY-MM-DD)”, e.g. “AI 行业动态 (2026-02-06)”"
    )


@pytest.mark.parametrize("header", ["AI 行业动态 2026-02-06", "AI 行业动态", "(2026-02-06) AI 行业动态"])
def test_it_reports_a_malformed_header_line(header):
    problem = only_problem(valid_doc().replace(HEADER, header))

    assert problem.startswith("line 1: expected the header line “<title> (YYYY-MM-DD)”")
    assert f"got “{header}”" in problem


def test_it_reports_a_header_without_a_title():
    problem = only_problem(valid_doc().replace(HEADER, "(2026-02-06)"))

    assert problem.startswith("line 1: the header has no title before the date")


def test_it_reports_an_unbalanced_span_around_the_header():
    problem = only_problem(valid_doc().replace(HEADER, f"{STYLED_SPAN}{HEADER}"))

    assert problem.startswith("line 1: the header line has an unbalanced <span> tag")


@pytest.mark.parametrize("date", ["2026-2-6x", "2026-2-6", "20260206", "２０２６-02-06", "yesterday"])
def test_it_reports_a_header_date_not_in_iso_form(date):
    problem = only_problem(valid_doc().replace("2026-02-06", date))

    assert problem == f"line 1: the header date “{date}” is not in YYYY-MM-DD form; expected e.g. “2026-02-06”"


@pytest.mark.parametrize("date", ["2026-02-30", "2026-13-01", "2025-02-29"])
def test_it_reports_a_header_date_that_does_not_exist(date):
    problem = only_problem(valid_doc().replace("2026-02-06", date))

    assert problem.startswith(f"line 1: the header date “{date}” is not a real calendar date;")


def test_it_reports_a_file_with_a_header_but_no_sections():
    assert only_problem(doc(HEADER)).startswith("line 0: the digest has no sections;")


# --------------------------------------------------------------------------
# Section errors


def test_it_reports_an_item_outside_any_section():
    text = doc(HEADER, "", TITLE, SUMMARY, *KEY_POINTS, SOURCE)

    assert only_problem(text) == (
        f"line 3: item “{TITLE}” is outside any section; expected a “**section name**” heading above it"
    )


def test_it_reports_an_empty_section():
    text = doc(HEADER, "", "**空栏目**", "", SECTION, "", TITLE, SUMMARY, *KEY_POINTS, SOURCE)

    problem = only_problem(text)

    assert problem.startswith("line 3: section “空栏目” has no items; expected at least one item")


def test_it_reports_an_empty_last_section():
    problem = only_problem(valid_doc() + "\n**空栏目**\n")

    assert problem.startswith("line 13: section “空栏目” has no items")


def test_it_reports_a_section_heading_without_a_name():
    problem = only_problem(valid_doc().replace(SECTION, "** **"))

    assert problem.startswith("line 3: the section heading has no name")


# --------------------------------------------------------------------------
# Item errors


def test_it_reports_missing_summary_with_line_number():
    text = valid_doc().replace(SUMMARY + "\n", "")

    assert only_problem(text) == (f"line 5: item “{TITLE}” is missing 说明 (summary); expected a line starting with “说明：”")


def test_it_shortens_long_titles_in_messages():
    long_title = "江苏省拟立法促进人工智能产业发展并设立专项基金支持企业创新"
    text = valid_doc().replace(TITLE, long_title).replace(SUMMARY + "\n", "")

    assert only_problem(text).startswith("line 5: item “江苏省拟立法促进人工智能产业发展并设立…” is missing 说明")


def test_it_reports_an_empty_summary():
    text = valid_doc().replace(SUMMARY, "说明：  ")

    assert only_problem(text) == f"line 6: 说明 (summary) of item “{TITLE}” is empty; expected text after “说明：”"


def test_it_reports_an_empty_background():
    text = valid_doc().replace(BACKGROUND, "背景：")

    assert only_problem(text).startswith(f"line 7: 背景 (background) of item “{TITLE}” is empty")


def test_it_reports_missing_key_points():
    text = valid_doc().replace("要点：\n- 第一点。\n- 第二点。\n", "")

    assert only_problem(text) == (
        f"line 5: item “{TITLE}” is missing 要点 (key points); "
        "expected a line “要点：” followed by one or more lines starting with “- ”"
    )


def test_it_reports_key_points_without_bullets():
    text = valid_doc().replace("- 第一点。\n- 第二点。\n", "")

    assert only_problem(text) == (
        f"line 8: 要点 (key points) of item “{TITLE}” has no bullets; "
        "expected one or more lines starting with “- ” below “要点：”"
    )


def test_it_reports_key_points_written_on_the_label_line():
    text = valid_doc().replace("要点：\n", "要点：第零点。\n")

    assert only_problem(text).startswith("line 8: text after “要点：” in item")


def test_it_reports_an_empty_bullet():
    text = valid_doc().replace("- 第二点。", "-")

    assert only_problem(text) == f"line 10: empty key point in item “{TITLE}”; expected text after “- ”"


def test_it_reports_a_missing_source():
    text = valid_doc().replace(SOURCE + "\n", "")

    assert only_problem(text) == (
        f"line 5: item “{TITLE}” is missing 来源出处 (source); expected a line like “来源出处：[name](https://…)”"
    )


@pytest.mark.parametrize(
    "source",
    [
        "[扬子晚报](javascript:alert(1))",
        "[扬子晚报](ftp://www.yzwb.net/a.html)",
        "[扬子晚报](mailto:news@yzwb.net)",
        "[扬子晚报](/news/a.html)",
        "[扬子晚报]()",
        "[扬子晚报](https://www.yzwb.net/a b.html)",
        "[扬子晚报](http://[::1)",
    ],
)
def test_it_reports_a_source_that_is_not_an_http_link(source):
    problem = only_problem(valid_doc().replace(SOURCE, f"来源出处：{source}"))

    assert problem.startswith(f"line 11: 来源出处 (source) of item “{TITLE}” links to")
    assert "expected an http:// or https:// URL" in problem


@pytest.mark.parametrize("source", ["https:///a.html", "http://"])
def test_it_reports_a_source_url_without_a_host(source):
    problem = only_problem(valid_doc().replace("https://www.yzwb.net/a.html", source))

    assert problem.startswith("line 11: 来源出处 (source)")
    assert "which has no host" in problem


@pytest.mark.parametrize("source", ["[扬子晚报]", "扬子晚报", "https://www.yzwb.net/a.html", "[扬子晚报] (https://x.cn)", ""])
def test_it_reports_a_source_that_is_not_a_markdown_link(source):
    problem = only_problem(valid_doc().replace(SOURCE, f"来源出处：{source}"))

    assert problem.startswith(f"line 11: 来源出处 (source) of item “{TITLE}” is not a Markdown link;")
    assert "expected “来源出处：[name](https://…)”" in problem


def test_it_reports_a_source_without_a_name():
    problem = only_problem(valid_doc().replace("[扬子晚报]", "[ ]"))

    assert problem.startswith("line 11: 来源出处 (source)")
    assert "has no name" in problem


def test_it_reports_a_field_in_the_wrong_place():
    text = doc(HEADER, "", SECTION, "", TITLE, SUMMARY, *KEY_POINTS, BACKGROUND, SOURCE)

    assert only_problem(text) == (
        f"line 10: 背景 (background) is in the wrong place in item “{TITLE}”; "
        "it must come before “要点：” (field order: 说明, 背景, 要点, 来源出处)"
    )


def test_a_misplaced_required_field_is_not_also_reported_missing():
    text = doc(HEADER, "", SECTION, "", TITLE, *KEY_POINTS, SUMMARY, SOURCE)

    assert only_problem(text).startswith("line 9: 说明 (summary) is in the wrong place")


def test_it_reports_a_duplicate_field():
    text = valid_doc().replace(SUMMARY, f"{SUMMARY}\n说明：又一个。")

    assert only_problem(text) == (f"line 7: duplicate 说明 (summary) in item “{TITLE}”; it was already given on line 6")


def test_it_reports_an_unexpected_line_and_says_what_was_expected():
    text = valid_doc().replace(SUMMARY, f"{SUMMARY}\n这一行是多出来的。")

    assert only_problem(text) == f"line 7: unexpected line in item “{TITLE}”; expected “背景：” or “要点：”"


def test_it_reports_text_between_bullets_as_unexpected():
    text = valid_doc().replace("- 第二点。", "第二点没有横线。")

    assert only_problem(text) == (
        f"line 10: unexpected line in item “{TITLE}”; expected a bullet starting with “- ” or “来源出处：”"
    )


def test_it_reports_a_bullet_outside_key_points():
    text = valid_doc().replace(BACKGROUND, "- 不该在这里。")

    assert only_problem(text).startswith(f"line 7: unexpected line in item “{TITLE}”; expected “背景：” or “要点：”")


def test_it_reports_a_bullet_after_the_source():
    text = valid_doc().replace(SOURCE, f"{SOURCE}\n- 迟到的要点。")

    assert only_problem(text) == f"line 12: unexpected line in item “{TITLE}”; expected a blank line before the next item"


def test_it_reports_a_field_without_an_item_title_once():
    text = doc(HEADER, "", SECTION, "", SUMMARY, *KEY_POINTS, SOURCE)

    assert only_problem(text) == (
        "line 5: 说明 (summary) has no item title above it; expected the item title on the line before it"
    )


# --------------------------------------------------------------------------
# Many problems at once


def test_it_reports_every_problem_in_line_order_not_just_the_first():
    text = doc(
        "AI 行业动态 (2026-02-30)",    # 1  bad date
        "",
        "孤儿条目",                     # 3  outside any section, missing fields
        "",
        SECTION,                       # 5
        "",
        TITLE,                         # 7  missing 说明
        BACKGROUND,
        "要点：",                       # 9  no bullets
        "来源出处：[扬子晚报](javascript:alert(1))",  # 10 bad url
        "",
        "**空栏目**",                   # 12 empty section
        "",
        "**产品与应用发布**",            # 14
        "",
        "第二条",                       # 16
        SUMMARY,
        SUMMARY,                       # 18 duplicate
        *KEY_POINTS,
        "来源出处：[网站](ftp://x.cn/a)",  # 22 bad url
    )  # fmt: skip

    problems = problems_in(text)

    assert [problem.split(":")[0] for problem in problems] == [
        "line 1",
        "line 3", "line 3", "line 3", "line 3",
        "line 7",
        "line 9",
        "line 10",
        "line 12",
        "line 18",
        "line 22",
    ]  # fmt: skip
    assert "is missing 说明" in problems[5]
    assert "has no bullets" in problems[6]
    assert "javascript:alert(1)" in problems[7]
    assert "has no items" in problems[8]
    assert "duplicate 说明" in problems[9]


def test_the_error_message_lists_every_problem_one_per_line():
    text = valid_doc().replace(SUMMARY + "\n", "").replace(SOURCE + "\n", "")

    with pytest.raises(DigestFormatError) as info:
        digest_parse(text)

    assert str(info.value).splitlines() == [str(problem) for problem in info.value.problems]
    assert len(info.value.problems) == 2


# --------------------------------------------------------------------------
# A weekly edition: 周刊：<first day> 至 <last day>, the last day being the header's date


WEEKLY_HEADER = "AI 行业动态 (2026-02-07)"


def test_a_weekly_line_makes_the_file_a_weekly_edition_with_its_first_day():
    parsed = digest_parse(
        doc(WEEKLY_HEADER, "周刊：2026-02-01 至 2026-02-07", "", SECTION, "", TITLE, SUMMARY, *KEY_POINTS, SOURCE)
    )

    assert parsed.period_start == datetime.date(2026, 2, 1)
    assert parsed.issue_date == datetime.date(2026, 2, 7)


def test_a_file_without_the_weekly_line_is_a_daily():
    assert digest_parse(valid_doc()).period_start is None


@pytest.mark.parametrize("dash", ["至", "–", "~", "～"])
def test_the_weekly_range_accepts_the_usual_dashes(dash):
    text = doc(WEEKLY_HEADER, f"周刊: 2026-02-01 {dash} 2026-02-07", "", SECTION, "", TITLE, SUMMARY, *KEY_POINTS, SOURCE)

    assert digest_parse(text).period_start == datetime.date(2026, 2, 1)


def test_a_weekly_formats_back_to_its_weekly_line():
    text = doc(
        STYLED_SPAN + WEEKLY_HEADER + "</span>",
        "",
        "周刊：2026-02-01 至 2026-02-07",
        "导语：本周要闻。",
        "",
        SECTION,
        "",
        TITLE,
        SUMMARY,
        *KEY_POINTS,
        SOURCE,
    )

    assert digest_format(digest_parse(text)) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-01", "“2026-02-01” is not a range of days; expected e.g. “周刊：2026-02-01 至 2026-02-07”"),
        ("2026-02-01 至 2026-02-31", "“2026-02-31” in 周刊 (weekly edition) is not a real calendar date"),
        ("2026-02-01 至 2026-02-06", "周刊 (weekly edition) ends on 2026-02-06 but the header is dated 2026-02-07"),
        ("2026-02-08 至 2026-02-07", "周刊 (weekly edition) starts on 2026-02-08, after its last day 2026-02-07"),
    ],
)
def test_a_bad_weekly_range_is_a_problem_on_its_line(value, expected):
    problem = only_problem(doc(WEEKLY_HEADER, f"周刊：{value}", "", SECTION, "", TITLE, SUMMARY, *KEY_POINTS, SOURCE))

    assert problem.startswith("line 2: ")
    assert expected in problem
