"""Digests over HTTP: created from the text format or JSON with import_digest's errors, read, exported, previewed."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from digests.content.digest_format import DigestFormatError, digest_parse
from digests.content.services import digest_transition
from digests.models import Digest, Item
from tests.helpers.digest_files import BAD_FILES, SEED_PATH, VALID_FILE

pytestmark = pytest.mark.django_db(transaction=True)

MARKDOWN = {"Content-Type": "text/markdown"}

JSON_DIGEST = {
    "issue_date": "2026-03-02",
    "title": "AI 行业动态",
    "preheader": "今天的三件事",
    "intro": "早上好。",
    "categories": [
        {
            "name": "政策与监管",
            "items": [
                {
                    "title": "条目一",
                    "summary": "说明一。",
                    "background": "背景一。",
                    "key_points": ["第一点。", "第二点。"],
                    "source_name": "来源",
                    "source_url": "https://example.com/1",
                }
            ],
        },
        {"name": "产品", "items": [{"title": "条目二", "summary": "说明二。", "source_url": "https://example.com/2"}]},
    ],
}


def test_the_seed_text_is_imported_exactly_as_import_digest_would(api):
    answer = api.post("digests/", data=SEED_PATH.read_bytes(), headers=MARKDOWN)

    assert answer.status_code == 201
    body = answer.json()
    digest = Digest.objects.get(issue_date="2026-02-06")
    assert body["id"] == digest.pk and body["status"] == "draft" and body["autopilot"] == ""
    parsed = digest_parse(SEED_PATH.read_bytes())
    assert [c["name"] for c in body["categories"]] == [s.name for s in parsed.sections]
    assert sum(len(c["items"]) for c in body["categories"]) == Item.objects.filter(digest=digest).count()
    assert {"level", "code", "message", "item_id"} <= set(body["checks"][0]) if body["checks"] else True


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_text_is_refused_with_the_same_line_numbered_errors_as_import_digest(api, case):
    data, line = BAD_FILES[case]
    with pytest.raises(DigestFormatError) as command_error:
        digest_parse(data)

    answer = api.post("digests/", data=data, headers=MARKDOWN)

    assert answer.status_code == 400
    expected = [{"line": p.line, "message": str(p.message)} for p in command_error.value.problems]
    assert answer.json()["errors"] == expected
    assert any(error["line"] == line for error in answer.json()["errors"])
    assert not Digest.objects.exists()


def test_a_json_digest_is_created_with_its_categories_in_order(api):
    answer = api.post("digests/", json=JSON_DIGEST)

    assert answer.status_code == 201, answer.text
    digest = Digest.objects.get(issue_date="2026-03-02")
    assert (digest.preheader, digest.intro) == ("今天的三件事", "早上好。")
    assert [c["name"] for c in answer.json()["categories"]] == ["政策与监管", "产品"]
    first = answer.json()["categories"][0]["items"][0]
    assert first["key_points"] == ["第一点。", "第二点。"] and first["source_url"] == "https://example.com/1"


def test_bad_json_is_refused_with_field_paths(api):
    bad = {**JSON_DIGEST, "issue_date": "2026-13-01", "categories": [{"name": "产品", "items": [{"title": "无说明"}]}]}
    answer = api.post("digests/", json=bad)

    assert answer.status_code == 400
    fields = {error["field"] for error in answer.json()["errors"]}
    assert fields == {"issue_date", "categories[0].items[0].summary"}
    assert not Digest.objects.exists()


def test_what_the_models_refuse_in_json_is_reported_on_its_field(api):
    long_title = {**JSON_DIGEST, "title": "长" * 201}
    answer = api.post("digests/", json=long_title)
    assert answer.status_code == 400
    assert [error["field"] for error in answer.json()["errors"]] == ["title"]


def test_an_existing_date_is_409_unless_replacing_a_draft(api):
    assert api.post("digests/", data=VALID_FILE, headers=MARKDOWN).status_code == 201
    assert api.post("digests/", data=VALID_FILE, headers=MARKDOWN).status_code == 409

    replaced = api.post(
        "digests/?replace=true", data=VALID_FILE.replace("测试条目一".encode(), "新标题".encode()), headers=MARKDOWN
    )
    assert replaced.status_code == 201
    assert list(Item.objects.values_list("title", flat=True)) == ["新标题"]

    digest_transition(Digest.objects.get(), to=Digest.Status.SCHEDULED)
    assert api.post("digests/?replace=true", data=VALID_FILE, headers=MARKDOWN).status_code == 409


def test_a_retried_post_with_the_same_idempotency_key_gets_the_first_answer(api):
    headers = {**MARKDOWN, "Idempotency-Key": "morning-2026-03-01"}
    first = api.post("digests/", data=VALID_FILE, headers=headers)
    again = api.post("digests/", data=VALID_FILE, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert Digest.objects.count() == 1
    assert api.post("digests/", data=VALID_FILE, headers={**MARKDOWN, "Idempotency-Key": "other"}).status_code == 409


def test_the_markdown_is_byte_identical_to_export_digest(api, seed_digest):
    out = io.StringIO()
    call_command("export_digest", "2026-02-06", stdout=out)

    answer = api.get("digests/2026-02-06/markdown")

    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/markdown")
    assert answer.content == out.getvalue().encode("utf-8")


def test_the_list_filters_by_status_and_date_range(api, seed_digest):
    api.post("digests/", data=VALID_FILE, headers=MARKDOWN)  # 2026-03-01, draft
    digest_transition(seed_digest, to=Digest.Status.SCHEDULED)

    def dates(**params):
        return [d["issue_date"] for d in api.get("digests/", params=params).json()["results"]]

    assert dates() == ["2026-03-01", "2026-02-06"]
    assert dates(status="scheduled") == ["2026-02-06"]
    assert dates(**{"from": "2026-02-07"}) == ["2026-03-01"]
    assert dates(to="2026-02-06") == ["2026-02-06"]
    assert api.get("digests/", params={"from": "yesterday"}).status_code == 400


def test_one_digest_and_an_unknown_one(api, seed_digest):
    assert api.get("digests/2026-02-06/").json()["title"] == seed_digest.title
    assert api.get("digests/2026-02-07/").status_code == 404
    assert api.get("digests/not-a-date/").status_code == 404


def test_a_weekly_edition_is_named_weekly_and_its_date_and_listed_with_its_edition(api, weekly_digest):
    daily = api.get("digests/2026-02-08/")
    assert daily.status_code == 404  # no daily on the weekly's last day
    weekly = api.get("digests/weekly:2026-02-08/").json()
    assert weekly["edition"] == "weekly" and weekly["period_start"] == "2026-02-02" and weekly["id"] == weekly_digest.pk
    assert weekly["categories"] and api.get("digests/weekly:2026-02-01/").status_code == 404
    listed = {d["id"]: d["edition"] for d in api.get("digests/").json()["results"]}
    assert listed[weekly_digest.pk] == "weekly" and "daily" in listed.values()


def test_the_preview_is_the_email_of_the_chosen_categories(api, seed_digest):
    categories = api.get("categories/").json()
    first, second = categories[0], categories[1]

    html = api.get("digests/2026-02-06/preview", params={"categories": first["slug"]})
    text = api.get("digests/2026-02-06/preview", params={"categories": first["slug"], "format": "text"})

    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert first["name"] in html.text and second["name"] not in html.text
    assert text.headers["Content-Type"].startswith("text/plain") and first["name"] in text.text
    assert api.get("digests/2026-02-06/preview", params={"categories": "nope"}).status_code == 400
    assert api.get("digests/2026-02-06/preview", params={"format": "pdf"}).status_code == 400
