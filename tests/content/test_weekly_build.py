"""Spec: the weekly edition is a draft assembled from the stored items of the week's sent dailies.

Per category: the week's leads, then the highlights, then the first items until the section holds
WEEKLY_ITEMS_PER_CATEGORY; a story two dailies covered appears once (its earliest copy).
"""

from __future__ import annotations

import datetime
import io
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from digests.content.services import digest_transition
from digests.content.weekly import WeeklyBuildError, weekly_build, weekly_build_due
from digests.models import Category, Digest, Item

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

FRI = datetime.date(2026, 2, 6)  # the seed's day; its week is Sat 1/31 – Fri 2/6


def day(n: int) -> datetime.date:
    """The n-th day of the week ending on FRI (0 = Saturday 1/31, 6 = Friday 2/6)."""
    return FRI - datetime.timedelta(days=6 - n)


def daily(date, sections, *, status=Digest.Status.SENT, lead=None, highlights=(), order=None) -> Digest:
    """A daily of ``date`` with ``sections`` ({category: [title, ...]}), links derived from the titles."""
    digest = Digest.objects.create(issue_date=date, title="AI 行业动态", status=status)
    made = {}
    for category, titles in sections.items():
        for position, title in enumerate(titles):
            made[title] = Item.objects.create(
                digest=digest,
                category=category,
                position=position,
                title=title,
                summary=f"{title} 的说明。",
                key_points=[f"{title} 的要点"],
                source_name="来源",
                source_url=f"https://news.example/{date.isoformat()}/{quote(title)}",
                highlight=title in highlights,
            )
    digest.section_order = [c.pk for c in (order or sections)]
    digest.lead_item = made.get(lead)
    digest.save()
    return digest


def weekly_sections(digest: Digest) -> list[tuple[str, list[str]]]:
    """The weekly's sections as the email shows them: (category, [item titles])."""
    from digests.rendering.sections import digest_content

    return [(section.name, [item.title for item in section.items]) for section in digest_content(digest).sections]


@pytest.fixture
def policy(categories):
    return Category.objects.get(slug="policy")


@pytest.fixture
def research(categories):
    return Category.objects.get(slug="research")


@pytest.fixture
def products(categories):
    return Category.objects.get(slug="products")


def test_leads_then_highlights_then_the_first_items_up_to_the_limit(settings, research, products):
    settings.WEEKLY_ITEMS_PER_CATEGORY = 3
    daily(day(2), {research: ["R1", "R2", "R3"], products: ["P1", "P2"]}, lead="R2")
    daily(day(4), {research: ["R4", "R5", "R6"], products: ["P3", "P4"]}, highlights=["R6", "P4"])
    daily(day(5), {research: ["R7"], products: ["P5"]}, lead="P5")

    weekly = weekly_build(FRI)

    # research: the leads R2 (chosen) and R4 (day 4 chose none: its first item), the highlight R6; that is 3.
    # products: the lead P5 and the highlight P4, then the first item P1 fills the third place.
    assert weekly_sections(weekly) == [("模型与研究", ["R2", "R4", "R6"]), ("产品", ["P5", "P4", "P1"])]
    assert weekly.lead_item.title == "R2"


def test_leads_and_highlights_are_always_in_the_limit_caps_only_the_fill_up(settings, research):
    settings.WEEKLY_ITEMS_PER_CATEGORY = 2
    daily(day(1), {research: ["A", "B", "C"]}, highlights=["B", "C"])
    daily(day(2), {research: ["D", "E"]})

    weekly = weekly_build(FRI)

    # Two leads (A: first item of day 1, D: first item of day 2) and two highlights: four items, no fill-up.
    assert weekly_sections(weekly) == [("模型与研究", ["A", "D", "B", "C"])]


def test_a_daily_without_a_chosen_lead_is_led_by_its_first_item_in_its_own_section_order(settings, research, policy):
    settings.WEEKLY_ITEMS_PER_CATEGORY = 1
    # Research has the lower global position, but this issue shows policy first: its first item leads it.
    daily(day(3), {research: ["R1", "R2"], policy: ["G1", "G2"]}, order=[policy, research])

    weekly = weekly_build(FRI)

    assert weekly_sections(weekly) == [("政策与监管", ["G1"]), ("模型与研究", ["R1"])]
    assert weekly.lead_item.title == "G1"


def test_a_story_two_dailies_covered_appears_once_as_its_earliest_copy(settings, research, products):
    settings.WEEKLY_ITEMS_PER_CATEGORY = 5
    monday = daily(day(2), {research: ["OpenAI 发布新模型", "Other"]})
    tuesday = daily(day(3), {research: ["Something else"], products: ["OpenAI  发布新模型！"]})
    wednesday = daily(day(4), {research: ["Lead W", "A different title"]})
    # Same link written differently: http/https, www., a trailing slash, tracking parameters.
    Item.objects.filter(digest=monday, title="Other").update(source_url="https://www.site.example/a/?utm_source=x")
    Item.objects.filter(digest=wednesday, title="A different title").update(source_url="http://site.example/a", highlight=True)
    Item.objects.filter(digest=tuesday, title="Something else").update(source_url="https://elsewhere.example/b")

    weekly = weekly_build(FRI)

    # Tuesday's products copy of Monday's lead (spaces and full-width punctuation aside) and Wednesday's
    # copy of "Other" (the same link) are left out; Wednesday's highlight carries to "Other".
    assert weekly_sections(weekly) == [("模型与研究", ["OpenAI 发布新模型", "Something else", "Lead W", "Other"])]
    settings.WEEKLY_ITEMS_PER_CATEGORY = 1
    assert weekly_sections(weekly_build(FRI, replace=True)) == weekly_sections(weekly)


def test_sections_follow_the_latest_dailys_order_then_the_global_order(settings, research, products, policy):
    daily(day(1), {research: ["R1"], products: ["P1"], policy: ["G1"]})
    daily(day(5), {products: ["P2"], research: ["R2"]}, order=[products, research])

    weekly = weekly_build(FRI)

    assert [name for name, _items in weekly_sections(weekly)] == ["产品", "模型与研究", "政策与监管"]
    assert weekly.section_order == [products.pk, research.pk, policy.pk]


def test_the_weekly_is_a_draft_of_copies_covering_seven_days(research, editor):
    source = daily(day(6), {research: ["R1"]})

    weekly = weekly_build(FRI, author=editor)

    assert (weekly.edition, weekly.status, weekly.period_start, weekly.issue_date) == (
        Digest.Edition.WEEKLY,
        Digest.Status.DRAFT,
        datetime.date(2026, 1, 31),
        FRI,
    )
    # The latest daily's title and "Weekly" in the site's language (English here; 周刊 in Chinese).
    assert weekly.title == "AI 行业动态 Weekly" and weekly.intro == "" and weekly.author == editor
    assert str(weekly) == "AI 行业动态 Weekly (2026-01-31 – 2026-02-06)"
    copy, original = weekly.items.get(), source.items.get()
    assert copy.pk != original.pk
    fields = ["category_id", "title", "summary", "background", "key_points", "source_name", "source_url"]
    assert [getattr(copy, f) for f in fields] == [getattr(original, f) for f in fields]
    # Editing the weekly leaves the daily as it was sent.
    copy.title = "本周：R1"
    copy.save()
    assert Item.objects.get(pk=original.pk).title == "R1"


def test_only_the_weeks_dailies_whose_send_started_are_used(settings, research):
    settings.WEEKLY_ITEMS_PER_CATEGORY = 10
    daily(day(0) - datetime.timedelta(days=1), {research: ["before the week"]})
    daily(day(0), {research: ["first day"]})
    daily(day(2), {research: ["draft"]}, status=Digest.Status.DRAFT)
    daily(day(3), {research: ["cancelled"]}, status=Digest.Status.CANCELLED)
    daily(day(4), {research: ["sending"]}, status=Digest.Status.SENDING)
    daily(day(6), {research: ["last day"]})
    daily(day(6) + datetime.timedelta(days=1), {research: ["after the week"]})

    assert weekly_sections(weekly_build(FRI)) == [("模型与研究", ["first day", "sending", "last day"])]


def test_a_week_with_missing_days_is_built_from_the_days_there_are(settings, seed_digest):
    settings.WEEKLY_ITEMS_PER_CATEGORY = 2
    digest_transition(seed_digest, to=Digest.Status.SENDING)
    digest_transition(seed_digest, to=Digest.Status.SENT)

    weekly = weekly_build(datetime.date(2026, 2, 8))

    sections = weekly_sections(weekly)
    daily_sections = weekly_sections(seed_digest)
    # One daily in the week: its sections in its order, its lead, then up to two items each.
    assert [name for name, _items in sections] == [name for name, _items in daily_sections]
    assert [items for _name, items in sections] == [items[:2] for _name, items in daily_sections]
    assert sections[0][1] == ["江苏省拟立法促进人工智能产业发展", "工信部发布开源AI智能体安全风险预警"]
    assert weekly.lead_item.title == "江苏省拟立法促进人工智能产业发展"


def test_a_week_without_a_sent_daily_is_refused_saying_which_week(research):
    daily(day(3), {research: ["draft"]}, status=Digest.Status.DRAFT)

    with pytest.raises(WeeklyBuildError, match="No daily digest was sent between 2026-01-31 and 2026-02-06"):
        weekly_build(FRI)
    assert not Digest.objects.filter(edition=Digest.Edition.WEEKLY).exists()


def test_building_again_refuses_and_replace_rebuilds_the_same_draft_keeping_the_editors_text(research, products):
    daily(day(2), {research: ["R1", "R2"], products: ["P1"]}, highlights=["R2"])
    daily(day(5), {products: ["P2", "P3"]})
    first = weekly_build(FRI)
    built = [(i.category_id, i.position, i.title) for i in first.items.order_by("category__position", "position")]

    with pytest.raises(WeeklyBuildError, match=r"already exists \(id %d\)" % first.pk):
        weekly_build(FRI)

    first.intro = "本周导语。"
    first.save()
    first.items.filter(title="R1").delete()
    again = weekly_build(FRI, replace=True)
    assert again.pk == first.pk and again.intro == "本周导语。"
    assert [(i.category_id, i.position, i.title) for i in again.items.order_by("category__position", "position")] == built


def test_a_scheduled_or_sent_weekly_is_never_replaced(research):
    daily(day(2), {research: ["R1"]})
    weekly = weekly_build(FRI)
    digest_transition(weekly, to=Digest.Status.SCHEDULED, scheduled_at=timezone.now())

    with pytest.raises(WeeklyBuildError, match="is Scheduled and cannot be replaced"):
        weekly_build(FRI, replace=True)
    assert weekly.items.count() == 1


def test_a_weekly_and_the_daily_of_its_last_day_share_the_date(research):
    daily(FRI, {research: ["R1"]})

    weekly_build(FRI)

    assert sorted(Digest.objects.filter(issue_date=FRI).values_list("edition", flat=True)) == ["daily", "weekly"]


# --- The command ---------------------------------------------------------------------------------------


def test_the_command_prints_what_it_built_and_where_to_edit_it(research, products):
    daily(day(2), {research: ["R1", "R2"], products: ["P1"]})
    out = io.StringIO()

    call_command("build_weekly", "2026-02-06", stdout=out)

    weekly = Digest.objects.get(edition=Digest.Edition.WEEKLY)
    text = out.getvalue()
    assert f"(id {weekly.pk}) with 3 items" in text
    assert "  模型与研究: 2\n" in text and "  产品: 1\n" in text
    assert f"/admin/digests/digest/{weekly.pk}/change/" in text


def test_the_command_refuses_with_a_clear_error(research):
    with pytest.raises(CommandError, match="not a date"):
        call_command("build_weekly", "2026-02-31")
    with pytest.raises(CommandError, match="No daily digest was sent"):
        call_command("build_weekly", "2026-02-06")
    daily(day(2), {research: ["R1"]})
    call_command("build_weekly", "2026-02-06", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("build_weekly", "2026-02-06")
    call_command("build_weekly", "2026-02-06", "--replace", stdout=io.StringIO())
    assert Digest.objects.filter(edition=Digest.Edition.WEEKLY).count() == 1


def test_the_command_exits_non_zero_with_the_error_on_stderr(capsys):
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit) as exit:
        ManagementUtility(["manage.py", "build_weekly", "1999-01-01"]).execute()

    assert exit.value.code != 0
    captured = capsys.readouterr()
    assert "No daily digest was sent between 1998-12-26 and 1999-01-01" in captured.err and "Built" not in captured.out


# --- The beat job ------------------------------------------------------------------------------------------


def local(date: datetime.date, hhmm: str) -> datetime.datetime:
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return timezone.make_aware(datetime.datetime.combine(date, datetime.time(hours, minutes)))


def test_the_beat_job_builds_on_the_build_day_after_the_build_time_once(settings, research):
    settings.WEEKLY_BUILD_DAY, settings.WEEKLY_BUILD_TIME = "fri", "12:00"
    daily(day(3), {research: ["R1"]})

    assert weekly_build_due(local(FRI, "11:59")) is None
    assert weekly_build_due(local(FRI - datetime.timedelta(days=1), "15:00")) is None
    built = weekly_build_due(local(FRI, "12:00"))
    assert built is not None and (built.issue_date, built.period_start) == (FRI, day(0))

    built.intro = "已写好的导语"
    built.save()
    assert weekly_build_due(local(FRI, "18:00")) is None
    assert Digest.objects.get(pk=built.pk).intro == "已写好的导语"


def test_the_beat_job_uses_the_site_time_zone(settings, research):
    settings.WEEKLY_BUILD_DAY, settings.WEEKLY_BUILD_TIME = "fri", "12:00"
    daily(day(3), {research: ["R1"]})
    # 04:30 UTC on Friday is 12:30 in Shanghai (the site's zone): time to build.
    utc = datetime.datetime(2026, 2, 6, 4, 30, tzinfo=datetime.UTC)

    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert weekly_build_due(utc).issue_date == FRI


def test_the_beat_job_does_nothing_without_a_sent_daily_or_when_off(settings, research):
    settings.WEEKLY_BUILD_DAY, settings.WEEKLY_BUILD_TIME = "fri", "12:00"
    assert weekly_build_due(local(FRI, "13:00")) is None

    daily(day(3), {research: ["R1"]})
    settings.WEEKLY_BUILD_DAY = "off"
    assert weekly_build_due(local(FRI, "13:00")) is None
    assert not Digest.objects.filter(edition=Digest.Edition.WEEKLY).exists()


def test_the_beat_schedule_runs_the_weekly_job():
    from newsletter.celery import app

    entry = app.conf.beat_schedule["build-weekly-edition"]
    assert entry["task"] == "digests.tasks.build_weekly_due"
    assert entry["task"] in app.tasks
