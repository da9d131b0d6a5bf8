"""Spec for the compact editor's server side: an error summary naming item and field, the http(s) message, counters."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers.admin_forms import change_form_data, ordered_items

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def change_url(digest):
    return reverse("admin:digests_digest_change", args=[digest.pk])


def summary_of(html: str) -> str:
    start = html.index('class="error-summary"')
    return html[start : html.index("</div>", start)]


@pytest.mark.parametrize("bad", ["ftp://example.com/a", "not a link at all"])
def test_a_bad_source_link_says_http_or_https_not_djangos_generic_message(editor_client, seed_digest, bad):
    item = ordered_items(seed_digest)[0]

    response = editor_client.post(change_url(seed_digest), change_form_data(seed_digest, **{str(item.pk): {"source_url": bad}}))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<li>Enter an http:// or https:// link.</li>") == 1
    assert "Enter a valid URL." not in html


def test_the_summary_on_top_names_each_item_and_field_with_its_error(editor_client, seed_digest):
    items = ordered_items(seed_digest)
    changes = {str(items[0].pk): {"source_url": "ftp://example.com/a"}, str(items[3].pk): {"summary": ""}}

    response = editor_client.post(change_url(seed_digest), change_form_data(seed_digest, **changes))

    summary = summary_of(response.content.decode())
    assert "2 problems to fix:" in summary
    assert (
        '<a href="#id_items-0-source_url">Item 1 “江苏省拟立法促进人工智能产业发展” (政策与监管), Source link</a>: '
        "Enter an http:// or https:// link." in summary
    )
    assert f'<a href="#id_items-3-summary">Item 4 “{items[3].title}” (模型与技术进展), Summary</a>' in summary


def test_a_clean_page_has_no_summary_and_counters_where_length_matters(editor_client, seed_digest):
    html = editor_client.get(change_url(seed_digest)).content.decode()

    assert 'class="error-summary"' not in html
    assert 'name="subject"' in html and 'data-char-count="60"' in html  # the subject, within 60 columns
    assert 'data-char-count="90"' in html  # the preheader, as mail apps show it
    assert 'name="items-0-summary"' in html and html.count("data-char-count") >= 2 + 14
