"""Spec for the import_digest and export_digest management commands."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from digests.content.digest_format import DigestFormatError, digest_parse
from digests.content.services import digest_transition
from digests.models import Category, Digest, Item
from tests.helpers.digest_files import BAD_FILES, SEED_PATH, VALID_FILE, VALID_LINES, digest_bytes
from tests.helpers.paths import ROOT

# These tests read labels and messages: English, so translations cannot change them.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def row_counts() -> tuple[int, int, int]:
    return Digest.objects.count(), Item.objects.count(), Category.objects.count()


def run_manage(*argv: str, capsys) -> tuple[int, str, str]:
    """Run a command in-process, returning (exit code, stdout, stderr) as manage.py would give them.

    manage.py turns a CommandError into its message on stderr and exit code
    ``returncode``; test_import_digest_really_exits_non_zero checks that path
    with a real process.
    """
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), f"CommandError: {exc}\n"
    return 0, out.getvalue(), err.getvalue()


def test_import_prints_the_new_digests_id_and_admin_url(tmp_path):
    path = tmp_path / "seed.md"
    path.write_bytes(SEED_PATH.read_bytes())
    out = io.StringIO()

    call_command("import_digest", str(path), stdout=out)

    digest = Digest.objects.get()
    assert digest.items.count() == 14
    assert f"id: {digest.pk}" in out.getvalue()
    admin_url = settings.SITE_URL + reverse("admin:digests_digest_change", args=[digest.pk])
    assert f"admin: {admin_url}" in out.getvalue()


def test_import_creates_categories_in_file_order(tmp_path):
    path = tmp_path / "seed.md"
    path.write_bytes(SEED_PATH.read_bytes())

    call_command("import_digest", str(path), stdout=io.StringIO())

    assert list(Category.objects.values_list("name", flat=True)) == [
        "政策与监管",
        "模型与技术进展",
        "产品与应用发布",
        "投融资与并购",
        "行业落地与生态",
    ]


def test_import_of_an_existing_date_is_refused_without_replace(tmp_path, seed_digest, capsys):
    path = tmp_path / "seed.md"
    path.write_bytes(SEED_PATH.read_bytes())
    seed_digest.items.filter(position=0).update(title="编辑改过的标题")
    before = row_counts()

    code, _out, err = run_manage("import_digest", str(path), capsys=capsys)

    assert code == 1
    assert f"already exists (id {seed_digest.pk})" in err
    assert row_counts() == before
    assert seed_digest.items.filter(title="编辑改过的标题").exists()


def test_import_with_replace_replaces_the_title_and_items_of_the_same_digest(tmp_path, seed_digest):
    lines = list(VALID_LINES)
    lines[0] = "新标题 (2026-02-06)"
    path = tmp_path / "replacement.md"
    path.write_bytes(digest_bytes(lines))
    out = io.StringIO()

    call_command("import_digest", str(path), "--replace", stdout=out)

    digest = Digest.objects.get()
    assert digest.pk == seed_digest.pk
    assert digest.title == "新标题"
    assert list(digest.items.values_list("title", flat=True)) == ["测试条目一"]
    assert f"id: {digest.pk}" in out.getvalue()


def test_replace_refuses_a_digest_that_is_being_sent(tmp_path, seed_digest, capsys):
    digest_transition(seed_digest, to=Digest.Status.SENDING)
    path = tmp_path / "seed.md"
    path.write_bytes(SEED_PATH.read_bytes())
    before = row_counts()

    code, _out, err = run_manage("import_digest", str(path), "--replace", capsys=capsys)

    assert code == 1
    assert "cannot be replaced" in err
    assert row_counts() == before


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_input_exits_non_zero_reports_the_line_and_changes_nothing(case, tmp_path, seed_digest, capsys):
    data, line = BAD_FILES[case]
    path = tmp_path / "bad.md"
    path.write_bytes(data)
    with pytest.raises(DigestFormatError) as expected:
        digest_parse(data)
    before = row_counts()

    code, out, err = run_manage("import_digest", str(path), capsys=capsys)

    assert code == 1
    assert "nothing changed" in err
    assert f"{path}:{line}: " in err
    for problem in expected.value.problems:
        assert f"{path}:{problem.line}: {problem.message}" in err
    assert "id:" not in out
    assert row_counts() == before


def test_every_problem_in_a_file_is_reported_at_once(tmp_path, capsys):
    lines = list(VALID_LINES)
    lines[0] = "AI 行业动态 (2026-3-1)"
    lines[8] = "来源出处：[测试来源](javascript:alert(1))"
    path = tmp_path / "bad.md"
    path.write_bytes(digest_bytes(lines))

    code, _out, err = run_manage("import_digest", str(path), capsys=capsys)

    assert code == 1
    assert f"{path}:1: " in err
    assert f"{path}:9: " in err
    assert row_counts() == (0, 0, 0)


def test_links_the_parser_accepts_but_the_model_refuses_are_reported_on_the_items_line(tmp_path, capsys):
    lines = list(VALID_LINES)
    lines[8] = "来源出处：[内网](http://intranet/page)"
    path = tmp_path / "intranet.md"
    path.write_bytes(digest_bytes(lines))

    code, _out, err = run_manage("import_digest", str(path), capsys=capsys)

    assert code == 1
    assert f"{path}:5: item “测试条目一”, source link: " in err
    assert row_counts() == (0, 0, 0)


def test_an_item_title_too_long_for_the_database_is_reported_not_crashed(tmp_path, capsys):
    lines = list(VALID_LINES)
    lines[4] = "长" * 301
    path = tmp_path / "long.md"
    path.write_bytes(digest_bytes(lines))

    code, _out, err = run_manage("import_digest", str(path), capsys=capsys)

    assert code == 1
    assert f"{path}:5: " in err
    assert "300" in err
    assert row_counts() == (0, 0, 0)


def test_a_section_name_too_long_for_a_category_is_reported_on_its_heading(tmp_path, capsys):
    lines = list(VALID_LINES)
    lines[2] = "**" + "类" * 101 + "**"
    path = tmp_path / "long-section.md"
    path.write_bytes(digest_bytes(lines))

    code, _out, err = run_manage("import_digest", str(path), capsys=capsys)

    assert code == 1
    assert f"{path}:3: section " in err
    assert row_counts() == (0, 0, 0)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read file"):
        call_command("import_digest", str(tmp_path / "nope.md"))


@pytest.mark.parametrize("lookup", ["2026-02-06", "id"])
def test_export_of_the_imported_seed_reproduces_the_seed_file(lookup, seed_digest):
    out = io.StringIO()

    call_command("export_digest", str(seed_digest.pk) if lookup == "id" else lookup, stdout=out)

    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.rstrip().splitlines()]

    assert lines(out.getvalue()) == lines(SEED_PATH.read_text(encoding="utf-8"))


def test_export_of_an_unknown_digest_is_a_clear_error(db):
    with pytest.raises(CommandError, match="digest for 2030-01-01 does not exist"):
        call_command("export_digest", "2030-01-01")
    with pytest.raises(CommandError, match="neither a date"):
        call_command("export_digest", "yesterday")


def test_a_valid_small_file_imports(tmp_path):
    path = tmp_path / "small.md"
    path.write_bytes(VALID_FILE)

    call_command("import_digest", str(path), stdout=io.StringIO())

    item = Item.objects.get()
    assert (item.title, item.key_points, item.source_url) == ("测试条目一", ["第一点。"], "https://example.com/a")


def test_import_digest_really_exits_non_zero_and_prints_problems_to_stderr(tmp_path):
    manage = ROOT / "manage.py"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
        "CACHE_URL": "locmem://",
        "LANGUAGE_CODE": "en",
        "SITE_URL": "http://127.0.0.1:8000",
    }

    def manage_py(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(manage), *args], env=env, capture_output=True, text=True, timeout=120)

    assert manage_py("migrate", "--noinput").returncode == 0
    bad = tmp_path / "bad.md"
    bad.write_bytes(BAD_FILES["missing 说明"][0])
    good = tmp_path / "good.md"
    good.write_bytes(VALID_FILE)

    failed = manage_py("import_digest", str(bad))
    imported = manage_py("import_digest", str(good))

    assert failed.returncode == 1
    assert f"{bad}:5: " in failed.stderr and "说明" in failed.stderr
    assert failed.stdout == ""
    assert imported.returncode == 0, imported.stderr
    assert "id: 1" in imported.stdout
    assert "admin: http://127.0.0.1:8000/admin/digests/digest/1/change/" in imported.stdout


def test_import_refuses_a_file_over_the_upload_cap_at_once(tmp_path, settings, capsys):
    """Issue 11.9: the command has the admin upload's cap (one setting, DIGEST_IMPORT_MAX_BYTES)."""
    settings.DIGEST_IMPORT_MAX_BYTES = 2000
    lines = list(VALID_LINES)
    while len(digest_bytes(lines)) <= 2000:
        lines += ["", *VALID_LINES[2:]]  # well-formed: more items of the same section
    path = tmp_path / "huge.md"
    path.write_bytes(digest_bytes(lines))

    code, out, err = run_manage("import_digest", str(path), capsys=capsys)

    assert code == 1
    assert f"is {path.stat().st_size} bytes; a digest file may be at most 2000 bytes (DIGEST_IMPORT_MAX_BYTES)" in err
    assert row_counts() == (0, 0, 0)


def test_the_admin_upload_and_the_command_share_one_cap(admin_client, settings):
    settings.DIGEST_IMPORT_MAX_BYTES = 100
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("big.md", digest_bytes(VALID_LINES), content_type="text/markdown")
    response = admin_client.post(reverse("admin:digests_digest_import"), {"file": upload})
    assert "a digest file may be at most 100 bytes" in response.content.decode()
    assert row_counts() == (0, 0, 0)


def test_import_prints_at_most_fifty_problems_then_how_many_more(tmp_path, capsys):
    path = tmp_path / "binary.md"
    path.write_bytes(b"AI \xe8\xa1\x8c (2026-02-06)\n" + b"\n".join(b"\x00\x01 junk %d" % n for n in range(300)))

    code, _out, err = run_manage("import_digest", str(path), capsys=capsys)

    assert code == 1
    problem_lines = [line for line in err.splitlines() if line.startswith(f"{path}:")]
    assert len(problem_lines) == 50
    assert err.rstrip().splitlines()[-1].startswith("… and ") and err.rstrip().endswith("more problems.")
    assert row_counts() == (0, 0, 0)
