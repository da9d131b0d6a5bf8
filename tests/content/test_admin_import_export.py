"""Spec for importing a Markdown file and downloading Markdown in the admin."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.html import escape

from digests.content.digest_format import DigestFormatError, digest_parse
from digests.content.services import digest_export, digest_transition
from digests.models import Category, Digest, Item
from tests.helpers.digest_files import BAD_FILES, SEED_PATH, VALID_FILE, VALID_LINES, digest_bytes

# These tests read labels and messages: English, so translations cannot change them.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

IMPORT_URL = reverse("admin:digests_digest_import")
LIST_URL = reverse("admin:digests_digest_changelist")


def upload(client, data: bytes, *, name: str = "digest.md", replace: bool = False):
    body = {"file": SimpleUploadedFile(name, data, content_type="text/markdown")}
    if replace:
        body["replace"] = "on"
    return client.post(IMPORT_URL, body)


def row_counts() -> tuple[int, int, int]:
    return Digest.objects.count(), Item.objects.count(), Category.objects.count()


# --------------------------------------------------------------------------
# Import


def test_the_import_page_has_a_file_field_and_a_replace_checkbox(editor_client):
    html = editor_client.get(IMPORT_URL).content.decode()

    assert 'type="file" name="file"' in html
    assert 'type="checkbox" name="replace"' in html
    assert 'enctype="multipart/form-data"' in html


def test_uploading_the_seed_creates_the_digest_and_opens_it(editor_client, editor):
    response = upload(editor_client, SEED_PATH.read_bytes(), name="ai-digest-2026-02-06.md")

    digest = Digest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:digests_digest_change", args=[digest.pk])
    assert (digest.items.count(), digest.author) == (14, editor)
    page = editor_client.get(response["Location"])
    assert "Imported “AI 行业动态 (2026-02-06)” with 14 items." in [str(m) for m in page.context["messages"]]


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_shows_every_problem_with_its_line_like_the_command_and_changes_nothing(
    case, editor_client, seed_digest, tmp_path
):
    data, line = BAD_FILES[case]
    with pytest.raises(DigestFormatError) as parsed:
        digest_parse(data)
    path = tmp_path / "bad.md"
    path.write_bytes(data)
    with pytest.raises(CommandError) as command:
        call_command("import_digest", str(path))
    before = row_counts()

    response = upload(editor_client, data, name="bad.md")

    assert response.status_code == 200
    assert row_counts() == before
    html = response.content.decode()
    assert "bad.md was not imported and nothing was changed" in html
    shown = [f"line {line}" if line else "whole file" for line in [p.line for p in parsed.value.problems]]
    assert shown[0] == (f"line {line}" if line else "whole file")
    for problem, where in zip(parsed.value.problems, shown, strict=True):
        assert problem.message in str(command.value)
        assert f"<li>{where}: {escape(problem.message)}</li>" in html


def test_a_date_that_already_exists_is_refused_unless_replace_is_ticked(editor_client, seed_digest):
    seed_digest.items.update(title="编辑改过")
    lines = list(VALID_LINES)
    lines[0] = "AI 行业动态 (2026-02-06)"

    refused = upload(editor_client, digest_bytes(lines))
    assert refused.status_code == 200
    assert f"already exists (id {seed_digest.pk})" in refused.content.decode()
    assert seed_digest.items.filter(title="编辑改过").count() == 14

    replaced = upload(editor_client, digest_bytes(lines), replace=True)
    assert replaced.status_code == 302
    assert list(Digest.objects.get(pk=seed_digest.pk).items.values_list("title", flat=True)) == ["测试条目一"]


def test_a_digest_that_is_being_sent_cannot_be_replaced_by_upload(editor_client, seed_digest):
    digest_transition(seed_digest, to=Digest.Status.SENDING)

    response = upload(editor_client, SEED_PATH.read_bytes(), replace=True)

    assert response.status_code == 200
    assert "cannot be replaced" in response.content.decode()
    assert Item.objects.filter(digest=seed_digest).count() == 14


def test_a_link_the_model_refuses_is_shown_on_the_items_line(editor_client):
    lines = list(VALID_LINES)
    lines[8] = "来源出处：[内网](http://intranet/page)"

    response = upload(editor_client, digest_bytes(lines))

    assert "<li>line 5: item “测试条目一”, source link: " in response.content.decode()
    assert row_counts() == (0, 0, 0)


def test_a_file_over_the_size_limit_is_refused_before_parsing(editor_client):
    response = upload(editor_client, VALID_FILE + b"\n" * (1024 * 1024))

    assert response.status_code == 200
    assert "a digest file may be at most 1048576 bytes" in response.content.decode()
    assert row_counts() == (0, 0, 0)


def test_uploading_nothing_asks_for_a_file_or_the_text(editor_client):
    response = editor_client.post(IMPORT_URL, {"text": "  \n"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Choose a file or paste the issue's text."]
    assert row_counts() == (0, 0, 0)


# --------------------------------------------------------------------------
# Export


def test_the_export_button_downloads_the_digest_as_markdown(editor_client, seed_digest):
    response = editor_client.get(reverse("admin:digests_digest_export", args=[seed_digest.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="digest-2026-02-06.md"'
    assert response.content.decode("utf-8") == digest_export(seed_digest)


def test_the_export_action_downloads_one_selected_digest_as_markdown(editor_client, seed_digest):
    response = editor_client.post(LIST_URL, {"action": "export_markdown", "_selected_action": [seed_digest.pk]})

    assert response["Content-Disposition"] == 'attachment; filename="digest-2026-02-06.md"'
    assert response.content.decode("utf-8") == digest_export(seed_digest)


def test_the_export_action_zips_several_digests_one_file_each(editor_client, seed_digest):
    lines = list(VALID_LINES)
    upload(editor_client, digest_bytes(lines))
    other = Digest.objects.get(issue_date="2026-03-01")

    response = editor_client.post(LIST_URL, {"action": "export_markdown", "_selected_action": [seed_digest.pk, other.pk]})

    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["digest-2026-02-06.md", "digest-2026-03-01.md"]
    assert archive.read("digest-2026-03-01.md").decode("utf-8") == digest_export(other)


def test_an_exported_file_imports_back_to_the_same_content(editor_client, seed_digest):
    exported = editor_client.get(reverse("admin:digests_digest_export", args=[seed_digest.pk])).content

    response = upload(editor_client, exported, replace=True)

    assert response.status_code == 302
    assert digest_export(Digest.objects.get()) == exported.decode("utf-8")
