"""Right after confirming, a reader gets one welcome email: what, when, how to change it, and the latest issue."""

import re

import pytest
from django.core import mail

from digests.content.services import digest_transition
from digests.models import Category, Digest, Subscriber, TransactionalEmail
from digests.readers.signup import subscriber_signup
from digests.readers.transactional import transactional_email_send
from tests.helpers.html import parse_html, visible_text

pytestmark = pytest.mark.django_db


def _confirm(client, on_commit, message):
    url = re.search(r"https?://\S+/confirm/\S+/", message.body).group(0)
    return on_commit(client.post, "/" + url.split("/", 3)[3])


def _signup(on_commit, categories, *, timezone="", **kwargs):
    on_commit(subscriber_signup, email="new@example.com", name="李雷", categories=categories, **kwargs)
    if timezone:
        Subscriber.objects.filter(email="new@example.com").update(timezone=timezone)
    return Subscriber.objects.get(email="new@example.com")


@pytest.fixture
def sent_seed(seed_digest):
    for status in ("sending", "sent"):
        digest_transition(seed_digest, to=status)
    return seed_digest


def test_confirming_sends_one_welcome_with_the_latest_issue_for_the_readers_categories(client, on_commit, sent_seed):
    chosen = list(Category.objects.filter(name__in=["政策与监管", "投融资与并购"]))
    _signup(on_commit, chosen, language="en", timezone="Europe/Berlin")
    _confirm(client, on_commit, mail.outbox[0])
    assert len(mail.outbox) == 2
    welcome = mail.outbox[1]
    assert welcome.subject == "Welcome to AI 行业动态"
    assert welcome.to == ["new@example.com"]
    html = welcome.alternatives[0].content
    text = visible_text(html)
    assert "07:30 your time (Europe/Berlin)" in text and "07:30 your time (Europe/Berlin)" in welcome.body
    assert "政策与监管" in text and "投融资与并购" in text
    # The latest issue, rendered for these categories only, with the reader's own links.
    assert "江苏省拟立法促进人工智能产业发展" in text and "视频大模型公司生数科技完成超6亿元A+轮融资" in text
    assert "国内基础大模型密集发布新技术" not in text
    hrefs = [a.get("href") for a in parse_html(html).xpath("//a")]
    assert any("/preferences/" in h for h in hrefs) and any("/unsubscribe/" in h for h in hrefs)
    assert "PLACEHOLDER" not in html + welcome.body
    assert "江苏省拟立法促进人工智能产业发展" in welcome.body


def test_the_welcome_is_in_the_readers_language(client, on_commit, sent_seed):
    _signup(on_commit, list(Category.objects.all()), language="zh-hans")
    _confirm(client, on_commit, mail.outbox[0])
    welcome = mail.outbox[1]
    assert welcome.subject == "欢迎订阅《AI 行业动态》"
    assert "管理订阅设置" in welcome.alternatives[0].content


def test_without_a_sent_issue_the_welcome_links_to_the_archive(client, on_commit, categories):
    _signup(on_commit, categories[:1], language="en")
    _confirm(client, on_commit, mail.outbox[0])
    welcome = mail.outbox[1]
    assert "past issues are in the archive" in welcome.body
    assert "http://127.0.0.1:8000/archive/" in welcome.body
    assert not Digest.objects.filter(status="sent").exists()


def test_confirming_again_or_a_repeated_task_sends_no_second_welcome(client, on_commit, categories):
    reader = _signup(on_commit, categories[:1], language="en")
    _confirm(client, on_commit, mail.outbox[0])
    _confirm(client, on_commit, mail.outbox[0])
    assert len(mail.outbox) == 2
    welcome = TransactionalEmail.objects.get(subscriber=reader, kind="welcome")
    assert transactional_email_send(welcome.pk) == "not-owed"  # the task delivered again
    assert len(mail.outbox) == 2


def test_a_reader_who_comes_back_after_unsubscribing_is_welcomed_to_the_new_subscription(client, on_commit, categories):
    from digests.readers.status import subscriber_transition

    reader = _signup(on_commit, categories[:1], language="en")
    _confirm(client, on_commit, mail.outbox[0])
    subscriber_transition(reader, to="unsubscribed")
    reader.refresh_from_db()
    on_commit(subscriber_signup, email="new@example.com", name="", categories=categories[1:], language="en")
    confirm = [m for m in mail.outbox if "/confirm/" in m.body][-1]
    _confirm(client, on_commit, confirm)
    assert sum(1 for m in mail.outbox if m.subject.startswith("Welcome")) == 2


def test_the_welcome_goes_through_the_transactional_connection(client, on_commit, categories, settings):
    from newsletter.env import email_url_parse

    settings.MAIL_CONNECTIONS = {
        "bulk": email_url_parse("EMAIL_URL", "smtp://127.0.0.1:9"),  # unreachable: must not be used
        "transactional": email_url_parse("TRANSACTIONAL_EMAIL_URL", "locmem://"),
    }
    _signup(on_commit, categories[:1], language="en")
    _confirm(client, on_commit, mail.outbox[0])
    assert [m.subject for m in mail.outbox][-1] == "Welcome to AI 行业动态"


def test_a_weekly_reader_is_welcomed_to_the_weekly_edition_on_their_day_with_the_latest_weekly(client, on_commit, weekly_digest):
    from digests.content.services import digest_duplicate

    for status in ("sending", "sent"):
        digest_transition(weekly_digest, to=status)
    saturday = Digest.objects.get(edition=Digest.Edition.DAILY, issue_date="2026-02-07")
    sunday = digest_duplicate(digest=saturday, with_items=True)
    for status in ("sending", "sent"):
        digest_transition(sunday, to=status)
    _signup(on_commit, list(Category.objects.all()), language="en", frequency="weekly", weekly_day="sun")
    _confirm(client, on_commit, mail.outbox[0])
    welcome = mail.outbox[1]
    text = visible_text(welcome.alternatives[0].content)
    assert "Every Sunday at 07:30" in text and "the week's news" in text and "Every morning" not in text
    assert "Every Sunday at 07:30" in welcome.body
    # The latest issue shown is the weekly one, not the newer daily of the same week.
    assert "/archive/weekly/" in welcome.body


def test_a_reader_of_both_editions_is_told_about_each(client, on_commit, sent_seed):
    _signup(on_commit, list(Category.objects.all()), language="en", frequency="both", weekly_day="mon")
    _confirm(client, on_commit, mail.outbox[0])
    text = visible_text(mail.outbox[1].alternatives[0].content)
    assert "Every Monday you also get the weekly edition" in text and "Every morning at 07:30" in text
