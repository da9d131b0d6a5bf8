"""Spec: a whole issue pasted as text next to the file upload, through the same parser and import service."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils.html import escape

from digests.content.digest_format import DigestFormatError, digest_parse
from digests.content.services import digest_export, digest_transition
from digests.models import Digest, Item
from tests.helpers.digest_files import BAD_FILES, SEED_PATH, VALID_LINES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

IMPORT_URL = reverse("admin:digests_digest_import")


def paste(client, text: str, *, replace: bool = False):
    return client.post(IMPORT_URL, {"text": text, **({"replace": "on"} if replace else {})})


def text_row(html: str) -> str:
    """The form row of the text box: the problems of pasted text are shown in it."""
    start = html.index('name="text"')
    start = html.rindex('<div class="form-row', 0, start)
    return html[start : html.index('<div class="form-row', start + 1)]


def test_the_import_page_offers_a_text_box_next_to_the_file_upload(editor_client):
    html = editor_client.get(IMPORT_URL).content.decode()

    assert 'type="file" name="file"' in html and '<textarea name="text"' in html


def test_pasting_the_seed_issue_creates_it_like_an_upload(editor_client, editor):
    response = paste(editor_client, SEED_PATH.read_text("utf-8"))

    digest = Digest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:digests_digest_change", args=[digest.pk])
    assert (digest.items.count(), digest.author) == (14, editor)
    assert LogEntry.objects.get(object_id=str(digest.pk)).change_message == "Imported from pasted text."


# An empty box is a form error, and text in a text box is always Unicode: the other bad files apply.
@pytest.mark.parametrize("case", [c for c in BAD_FILES if c not in ("empty file", "non-UTF-8 file")])
def test_bad_text_shows_every_problem_with_its_line_next_to_the_text_and_changes_nothing(case, editor_client, seed_digest):
    data, _line = BAD_FILES[case]
    text = data.decode("utf-8")
    with pytest.raises(DigestFormatError) as parsed:
        digest_parse(text)
    before = (Digest.objects.count(), Item.objects.count())

    response = paste(editor_client, text)

    assert response.status_code == 200
    assert (Digest.objects.count(), Item.objects.count()) == before
    row = text_row(response.content.decode())
    assert "The pasted text was not imported and nothing was changed" in row
    for problem in parsed.value.problems:
        where = f'<li data-line="{problem.line}">line {problem.line}' if problem.line else "<li>whole file"
        assert f"{where}: {escape(problem.message)}</li>" in row
    # The text stays in the box to be fixed.
    assert escape(text.splitlines()[0]) in row


def test_a_draft_is_replaced_by_editing_its_text(editor_client, seed_digest):
    page = editor_client.get(reverse("admin:digests_digest_change", args=[seed_digest.pk])).content.decode()
    assert f"{IMPORT_URL}?replace={seed_digest.pk}" in page
    form = editor_client.get(IMPORT_URL, {"replace": seed_digest.pk}).context["form"]
    assert form.initial == {"text": digest_export(seed_digest), "replace": True}

    edited = form.initial["text"].replace("江苏省拟立法促进人工智能产业发展", "江苏省人工智能条例进入立法计划")
    response = paste(editor_client, edited, replace=True)

    assert response.status_code == 302
    assert Digest.objects.get().items.filter(title="江苏省人工智能条例进入立法计划").count() == 1
    assert Item.objects.count() == 14


def test_pasting_over_an_existing_date_needs_replace_and_a_sent_issue_is_never_replaced(editor_client, seed_digest):
    lines = ["AI 行业动态 (2026-02-06)", *VALID_LINES[1:]]

    refused = paste(editor_client, "\n".join(lines))
    assert re.search(r"already exists \(id \d+\)", refused.content.decode())

    digest_transition(seed_digest, to=Digest.Status.SENDING)
    response = paste(editor_client, "\n".join(lines), replace=True)
    assert "cannot be replaced" in text_row(response.content.decode())
    assert Item.objects.filter(digest=seed_digest).count() == 14
