"""render_digest writes what a reader would receive; bench_render measures the cost (issue 3)."""

import pytest
from django.core.management import CommandError, call_command

from digests.models import Category
from digests.rendering.inline import variant_inlined
from tests.helpers.html import parse_html

# These tests read English messages; the default language's translations must not change them.
pytestmark = pytest.mark.usefixtures("english")


def test_render_digest_writes_the_exact_html_a_reader_receives(seed_digest, capsys):
    call_command("render_digest", "2026-02-06")
    out = capsys.readouterr().out
    assert out == variant_inlined(seed_digest, None).html
    assert "https://reader.invalid/UNSUBSCRIBExTOKENxPLACEHOLDER" in out


def test_render_digest_by_id_with_categories_as_text_to_a_file(seed_digest, tmp_path):
    slugs = list(Category.objects.filter(name__in=["政策与监管", "投融资与并购"]).values_list("slug", flat=True))
    output = tmp_path / "digest.txt"
    call_command("render_digest", str(seed_digest.pk), "--categories", ",".join(slugs), "--text", "--output", str(output))
    text = output.read_text(encoding="utf-8")
    assert "==== 政策与监管 ====" in text and "==== 投融资与并购 ====" in text
    assert "模型与技术进展 ====" not in text
    assert "<" not in text


def test_render_digest_in_english(seed_digest, capsys):
    call_command("render_digest", "2026-02-06", "--language", "en")
    assert parse_html(capsys.readouterr().out).get("lang") == "en"


@pytest.mark.parametrize(
    "args, message",
    [
        (["2026-02-07"], "does not exist"),
        (["soon"], "neither a date"),
        (["2026-02-06", "--categories", "zheng-ce-yu-jian-guan,nope"], "Unknown category slug(s): nope"),
    ],
)
def test_render_digest_explains_bad_input(seed_digest, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("render_digest", *args)


def test_render_digest_says_when_a_reader_gets_nothing(seed_digest):
    Category.objects.create(name="机器人", slug="robots")
    with pytest.raises(CommandError, match="gets no email"):
        call_command("render_digest", "2026-02-06", "--categories", "robots")


def test_bench_render_reports_inline_time_personalisation_rate_and_premailer_calls(seed_digest, capsys):
    call_command("bench_render", "--readers", "300", "--variants", "4")
    out = capsys.readouterr().out
    assert out.count("rendered and inlined in") == 4
    assert "readers/s" in out and "µs per reader" in out
    assert "premailer calls: 4 " in out
