"""The signup page and its answer are rendered once per process; every visitor still gets their own page."""

import re

import pytest
from django.test import Client

from digests.models import Subscriber
from digests.rendering.once import rendered_fragments
from digests.views.rendered_once import PageReadsTheVisitor, render_once
from tests.helpers.readers import CSP_NONCE, CSRF_INPUT, without_csrf

pytestmark = pytest.mark.django_db
URL = "/subscribe/"
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
NEXT = re.compile(rb'name="next" value="([^"]*)"')


@pytest.fixture(autouse=True)
def fresh_pages():
    rendered_fragments.clear()
    yield
    rendered_fragments.clear()


def test_the_second_visitor_gets_the_page_without_any_template_being_rendered(client, categories):
    first, second = client.get(URL), Client().get(URL)

    assert first.templates and not second.templates
    assert without_csrf(first.content) == without_csrf(second.content)
    assert CSRF_INPUT.search(first.content).group(0) != CSRF_INPUT.search(second.content).group(0)
    assert CSP_NONCE.search(first.content).group(0) != CSP_NONCE.search(second.content).group(0)


def test_a_visitor_served_the_page_rendered_once_can_sign_up_with_its_token(categories, on_commit):
    Client(enforce_csrf_checks=True).get(URL)  # the page is rendered for someone else first
    visitor = Client(enforce_csrf_checks=True)
    page = visitor.get(URL)
    token = TOKEN.search(page.content).group(1).decode()

    answer = on_commit(
        visitor.post, URL, {"csrfmiddlewaretoken": token, "email": "once@example.com", "categories": [categories[0].pk]}
    )

    assert answer.status_code == 200 and "csrftoken" in page.cookies
    assert Subscriber.objects.filter(email="once@example.com", status=Subscriber.Status.PENDING).exists()


def test_a_forged_token_is_still_refused(categories):
    visitor = Client(enforce_csrf_checks=True)
    visitor.get(URL)

    answer = visitor.post(URL, {"csrfmiddlewaretoken": "x" * 64, "email": "forged@example.com"})

    assert answer.status_code == 403 and not Subscriber.objects.filter(email="forged@example.com").exists()


def test_the_language_switch_sends_each_visitor_back_to_their_own_address(client, categories):
    client.get(URL)
    tracked = client.get(URL, {"utm_source": "weibo", "q": '"><script>'})

    assert NEXT.search(tracked.content).group(1) == b"/subscribe/?utm_source=weibo&amp;q=%22%3E%3Cscript%3E"
    assert b"<script>" not in tracked.content


def test_each_language_and_each_set_of_categories_has_its_own_page(client, categories, settings):
    chinese = client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    english = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    categories[1].name = "开源与社区"
    categories[1].save()
    renamed = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    settings.SITE_NAME = "晨报"
    retitled = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert 'lang="zh-hans"' in chinese and "Email address" in english and "Email address" not in chinese
    assert "开源与社区" in renamed and "开源与社区" not in english
    assert "晨报" in retitled and "晨报" not in renamed


def test_a_page_that_reads_anything_else_about_the_visitor_fails_instead_of_freezing_it(rf, settings):
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "loaders": [("django.template.loaders.locmem.Loader", {"cookies.html": "{{ request.COOKIES.sessionid }}"})],
                "context_processors": ["django.template.context_processors.request"],
            },
        }
    ]
    request = rf.get("/somewhere/")
    request.COOKIES["sessionid"] = "one visitor's session"

    with pytest.raises(PageReadsTheVisitor, match="request.COOKIES"):
        render_once(request, "cookies.html")


def test_an_edited_template_shows_on_the_next_page_under_runserver(client, categories, settings):
    from pathlib import Path

    from django.utils.autoreload import file_changed

    client.get(URL)
    assert len(rendered_fragments._cache)
    file_changed.send(sender=None, file_path=Path(settings.BASE_DIR) / "digests" / "views" / "readers.py")
    assert len(rendered_fragments._cache), "a Python file restarts the server; nothing to forget"

    file_changed.send(sender=None, file_path=Path(settings.BASE_DIR) / "templates" / "digests" / "subscribe.html")

    assert not rendered_fragments._cache
