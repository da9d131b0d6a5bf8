"""Done when (issue 16): with the seed and two more dailies sent in one week, `build_weekly` makes a
draft that an editor adjusts in the admin and sends; a real Celery worker delivers the dailies and the
weekly over real SMTP, each to the readers whose frequency takes it, each with their own categories."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from digests.content.services import digest_duplicate
from digests.delivery.schedule import digest_start
from digests.models import Category, Digest, Item, Subscriber
from tests.helpers.admin_forms import change_form_data, ordered_items
from tests.helpers.html import parse_html
from tests.helpers.readers import make_reader
from tests.helpers.services import needs_services, wait_for

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]

SUNDAY = datetime.date(2026, 2, 8)


def _send(digest: Digest) -> Digest:
    """Send a digest now through the real worker and wait until it is sent (the week is past: stale is allowed)."""
    digest_start(digest, immediate=True, allow_stale=True)
    assert wait_for(lambda: Digest.objects.get(pk=digest.pk).status == Digest.Status.SENT, timeout=120, interval=0.5)
    digest.refresh_from_db()
    return digest


@pytest.fixture
def editor_client(client, django_user_model):
    """An Editor signed in; the group is made again, since a transactional test before this one may have flushed it."""
    from importlib import import_module

    from django.contrib.auth.models import Group, Permission

    codenames = import_module("digests.migrations.0002_editorial_groups").EDITOR
    group, _created = Group.objects.get_or_create(name="Editor")
    group.permissions.set(Permission.objects.filter(content_type__app_label="digests", codename__in=codenames))
    editor = django_user_model.objects.create_user(username="editor", password="pw-editor", is_staff=True)
    editor.groups.add(group)
    client.force_login(editor)
    return client


def _week_of_dailies(seed_digest) -> dict:
    """The seed (Fri 2/6) and two more dailies: Sat 2/7 with two new stories (one a highlight) and Sun 2/8
    that repeats Saturday's news (the same links), with its own lead chosen."""
    _send(seed_digest)
    saturday = digest_duplicate(digest=seed_digest, with_items=True)
    policy = Category.objects.get(name="政策与监管")
    funding = Category.objects.get(name="投融资与并购")
    new_policy = saturday.items.filter(category=policy).order_by("position").first()
    new_policy.title, new_policy.source_url = "国务院发布人工智能+行动意见", "https://www.gov.cn/zhengce/ai-plus.html"
    new_policy.save()
    highlight = saturday.items.filter(category=funding).order_by("-position").first()
    highlight.title, highlight.source_url, highlight.highlight = "某大模型公司完成新一轮融资", "https://36kr.example/p/1", True
    highlight.save()
    _send(saturday)
    sunday = digest_duplicate(digest=saturday, with_items=True)
    sunday.lead_item = sunday.items.get(title="某大模型公司完成新一轮融资")
    sunday.save()
    _send(sunday)
    return {"policy": policy, "funding": funding}


def test_the_weekly_is_built_adjusted_in_the_admin_and_sent_to_weekly_readers(
    seed_digest, editor_client, smtp_server, worker, settings
):
    settings.WEEKLY_ITEMS_PER_CATEGORY = 2
    everything = list(Category.objects.all())
    daily_reader = make_reader("daily@example.com", categories=everything)
    weekly_reader = make_reader("weekly@example.com", categories=everything, frequency=Subscriber.Frequency.WEEKLY)
    policy = Category.objects.get(name="政策与监管")
    both_reader = make_reader("both@example.com", categories=[policy], frequency=Subscriber.Frequency.BOTH)
    # A weekly reader whose only category had nothing all week gets no email.
    robots = Category.objects.create(name="机器人", slug="robots", position=99)
    robots_reader = make_reader("robots@example.com", categories=[robots], frequency=Subscriber.Frequency.WEEKLY)
    worker().start()

    week = _week_of_dailies(seed_digest)
    # The three dailies went to the daily and the both reader, never to a weekly-only reader.
    assert smtp_server.by_recipient() == {daily_reader.email: 3, both_reader.email: 3}
    dailies_sent = len(smtp_server.messages)

    out = io.StringIO()
    call_command("build_weekly", "2026-02-08", stdout=out)

    weekly = Digest.objects.get(edition=Digest.Edition.WEEKLY, issue_date=SUNDAY)
    assert f"/admin/digests/digest/{weekly.pk}/change/" in out.getvalue() and weekly.status == Digest.Status.DRAFT
    policy_titles = [i.title for i in ordered_items(weekly) if i.category_id == week["policy"].pk]
    # The seed's lead (its first item) and Saturday's lead (the rewritten first item), nothing more: the limit is 2.
    assert policy_titles == ["江苏省拟立法促进人工智能产业发展", "国务院发布人工智能+行动意见"]
    funding_titles = [i.title for i in ordered_items(weekly) if i.category_id == week["funding"].pk]
    # Sunday's lead and Saturday's highlight are one story, the earliest copy, first in its section.
    assert funding_titles[0] == "某大模型公司完成新一轮融资" and funding_titles.count("某大模型公司完成新一轮融资") == 1

    # The editor swaps the two stories on models, cuts the last item and writes the week's 导语.
    items = ordered_items(weekly)
    models = Category.objects.get(name="模型与技术进展")
    first, second = [i for i in items if i.category_id == models.pk]
    cut = items[-1]
    data = change_form_data(
        weekly, **{str(first.pk): {"position": 1}, str(second.pk): {"position": 0}, str(cut.pk): {"DELETE": "on"}}
    )
    data.pop("issue_date")
    data["lead_item"] = weekly.lead_item_id  # the lead story select, as the page posts it
    data["intro"] = "本周：地方立法与国家行动意见接连出台，大模型融资升温。"
    response = editor_client.post(reverse("admin:digests_digest_change", args=[weekly.pk]), data)
    assert response.status_code == 302
    weekly.refresh_from_db()
    assert not Item.objects.filter(pk=cut.pk).exists()

    # The Publisher sends it now (the week is past: the stale guard is overridden, as on the sending page).
    digest_start(weekly, immediate=True, allow_stale=True)

    assert wait_for(lambda: Digest.objects.get(pk=weekly.pk).status == Digest.Status.SENT, timeout=120, interval=0.5)
    # The weekly went to the weekly and the both reader; the daily reader and the reader of an empty week got none.
    assert smtp_server.by_recipient() == {daily_reader.email: 3, weekly_reader.email: 1, both_reader.email: 4}
    assert robots_reader.email not in smtp_server.by_recipient()
    messages = {rcpts[0]: message for rcpts, message, _raw in smtp_server.parsed()[dailies_sent:]}
    for message in messages.values():
        assert message["Subject"].strip() == "AI 行业动态 周刊 2/2–2/8｜江苏省拟立法促进人工智能产业发展"
    whole = messages[weekly_reader.email]
    html = whole.get_body(("html",)).get_content()
    text = whole.get_body(("plain",)).get_content()
    assert "周刊 · 2026年2月2日 – 2026年2月8日" in " ".join(parse_html(html).find_class("dl")[0].text_content().split())
    assert "本周：地方立法与国家行动意见接连出台" in text
    assert text.index(second.title) < text.index(first.title)
    assert cut.title not in text
    assert "/archive/weekly/2026-02-08/" in text
    # The reader of one category gets only that category's stories of the week.
    only_policy = messages[both_reader.email].get_body(("plain",)).get_content()
    assert "国务院发布人工智能+行动意见" in only_policy and "某大模型公司完成新一轮融资" not in only_policy
