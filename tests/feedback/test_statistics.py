"""Statistics of a send: numbers, SVG charts, the admin pages and `digest_stats`, on one seeded send."""

import datetime
import xml.etree.ElementTree as ET
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from digests.feedback.charts import category_clicks_svg, funnel_svg, growth_svg
from digests.feedback.events import event_store_first_party
from digests.feedback.statistics import digest_category_clicks, digest_item_clicks, digest_stats, list_growth
from digests.models import Delivery, DeliveryEvent, Subscriber
from tests.helpers.deliveries import make_delivery
from tests.helpers.readers import make_reader

# These tests read English messages; the default language's translations must not change them.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
SVG = "{http://www.w3.org/2000/svg}"


def _event(delivery, event_type, *, provider="postmark", n=0, bounce_type="", item=None):
    return DeliveryEvent.objects.create(
        delivery=delivery,
        subscriber=delivery.subscriber if delivery else None,
        provider=provider,
        event_id=f"{provider}-{event_type}-{delivery.pk if delivery else 'x'}-{n}" if provider != "first-party" else "",
        event_type=event_type,
        bounce_type=bounce_type,
        item=item,
        occurred_at=timezone.now(),
    )


@pytest.fixture
def seeded_send(seed_digest):
    """Ten readers: 8 sent, 1 failed, 1 withdrawn; delivery reports, bounces, a complaint, opens, clicks, unsubscribes."""
    readers = [make_reader(f"r{i}@example.com", life_cycle=False) for i in range(10)]
    d = [make_delivery(seed_digest, r) for r in readers[:8]]
    make_delivery(seed_digest, readers[8], status=Delivery.Status.FAILED)
    make_delivery(seed_digest, readers[9], status=Delivery.Status.SUPPRESSED)
    for i in range(6):
        _event(d[i], "delivered")
    _event(d[6], "bounced", bounce_type="hard")
    _event(d[7], "bounced", bounce_type="soft", n=1)
    _event(d[7], "bounced", bounce_type="soft", n=2)  # the same message twice: one bounced reader
    _event(d[3], "complained")
    for i in (0, 1, 2):
        _event(d[i], "opened")
    _event(d[0], "opened", n=2)
    event_store_first_party(event_type="opened", subscriber=readers[3], delivery=d[3])
    event_store_first_party(event_type="opened", subscriber=readers[0], delivery=d[0])
    items = list(seed_digest.items.select_related("category"))
    first, other = items[0], next(i for i in items if i.category_id != items[0].category_id)
    for reader, delivery in ((readers[1], d[1]), (readers[2], d[2])):
        event_store_first_party(event_type="clicked", subscriber=reader, delivery=delivery, item=first, url=first.source_url)
    event_store_first_party(event_type="clicked", subscriber=readers[1], delivery=d[1], item=other, url=other.source_url)
    event_store_first_party(event_type="clicked", subscriber=None, delivery=None, item=first, url=first.source_url)
    _event(d[4], "unsubscribed")
    Subscriber.objects.filter(pk=readers[5].pk).update(
        status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now() + datetime.timedelta(minutes=1)
    )
    return {"digest": seed_digest, "first": first, "other": other}


def test_digest_stats_count_readers_not_events(seeded_send):
    stats = digest_stats(seeded_send["digest"])
    assert (stats.audience, stats.sent, stats.delivered) == (10, 8, 6)
    assert (stats.bounced_hard, stats.bounced_soft, stats.bounced) == (1, 1, 2)
    assert (stats.complained, stats.unsubscribed) == (1, 2)
    assert (stats.unique_opens, stats.unique_clicks) == (4, 2)
    rates = stats.rates()
    assert rates["delivered"].percent == 75.0
    assert rates["unique_opens"].percent == round(100 * 4 / 6, 2)
    assert str(rates["unique_clicks"]) == "33.33%"


def test_rates_fall_back_to_sent_mail_without_delivery_reports(seed_digest):
    readers = [make_reader(f"s{i}@example.com", life_cycle=False) for i in range(4)]
    d = [make_delivery(seed_digest, r) for r in readers]
    event_store_first_party(event_type="opened", subscriber=readers[0], delivery=d[0])
    stats = digest_stats(seed_digest)
    assert not stats.delivered_known
    assert stats.rates()["unique_opens"].percent == 25.0


def test_an_empty_digest_has_no_rates_rather_than_a_division_error(seed_digest):
    stats = digest_stats(seed_digest)
    assert stats.audience == 0 and str(stats.rates()["delivered"]) == "–"


def test_clicks_per_category_and_per_item(seeded_send):
    categories = {c.label: c for c in digest_category_clicks(seeded_send["digest"])}
    first, other = seeded_send["first"], seeded_send["other"]
    assert (categories[first.category.name].unique_readers, categories[first.category.name].clicks) == (2, 3)
    assert categories[other.category.name].unique_readers == 1
    items = {i.label: i for i in digest_item_clicks(seeded_send["digest"])}
    assert (items[first.title].unique_readers, items[first.title].clicks, items[first.title].url) == (2, 3, first.source_url)
    assert sum(i.unique_readers for i in items.values()) == 3


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_the_charts_are_well_formed_svg_that_carry_the_numbers(seeded_send):
    stats = digest_stats(seeded_send["digest"])
    texts = _texts(funnel_svg(stats))
    for label, value in (("Audience", "10"), ("Sent", "8"), ("Delivered", "6"), ("Unique clicks", "2")):
        assert label in texts and value in texts
    assert any("approximate" in t for t in texts)
    categories = digest_category_clicks(seeded_send["digest"])
    texts = _texts(category_clicks_svg(categories))
    assert seeded_send["first"].category.name in texts and "2" in texts


def test_chart_labels_are_escaped(seeded_send):
    from digests.feedback.statistics import ClickCount

    svg = category_clicks_svg([ClickCount(label='<script>&"大模型"', unique_readers=5, clicks=7)])
    assert "<script>" not in svg
    assert '<script>&"大模型"' in _texts(svg)


def test_list_growth_counts_subscribes_confirmations_and_unsubscribes_per_day(db):
    now = timezone.now()
    make_reader("a@example.com", life_cycle=False, confirmed_at=now)
    make_reader("b@example.com", life_cycle=False, status=Subscriber.Status.PENDING, confirmed_at=None)
    make_reader("c@example.com", life_cycle=False, status=Subscriber.Status.UNSUBSCRIBED, confirmed_at=now, unsubscribed_at=now)
    old = make_reader("old@example.com", life_cycle=False)
    Subscriber.objects.filter(pk=old.pk).update(created_at=now - datetime.timedelta(days=3))
    days = list_growth(days=7)
    assert len(days) == 7 and days[-1].day == timezone.localdate()
    assert (days[-1].subscribes, days[-1].confirmations, days[-1].unsubscribes) == (3, 2, 1)
    assert days[-4].subscribes == 1
    texts = _texts(growth_svg(days))
    assert "Subscribes" in texts and "Unsubscribes" in texts and "3" in texts


def test_digest_stats_command_prints_the_same_numbers(seeded_send):
    out = StringIO()
    call_command("digest_stats", "2026-02-06", stdout=out)
    text = out.getvalue()
    lines = {line.split("  ")[0].strip(): line.split() for line in text.splitlines() if "  " in line}
    assert lines["Audience"][-1] == "10"
    assert lines["Sent"][-2:] == ["8", "80.00%"]
    assert lines["Delivered"][-2:] == ["6", "75.00%"]
    assert lines["Unique clicks"][-2:] == ["2", "33.33%"]
    assert "approximate" in text
    assert seeded_send["first"].category.name in text and seeded_send["first"].title in text
    out = StringIO()
    call_command("digest_stats", str(seeded_send["digest"].pk), stdout=out)
    assert "Audience" in out.getvalue()


def test_digest_stats_command_says_which_digest_it_could_not_find(db):
    with pytest.raises(CommandError, match="neither a date"):
        call_command("digest_stats", "yesterday")
    with pytest.raises(CommandError):
        call_command("digest_stats", "1999-01-01")


@pytest.fixture
def admin_client_(client, django_user_model, settings):
    # Admin pages link static files; tests run without collectstatic's manifest.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


def test_the_admin_statistics_page_shows_numbers_and_charts(admin_client_, seeded_send):
    digest = seeded_send["digest"]
    changelist = admin_client_.get("/admin/digests/digest/")
    assert f"/admin/digests/digest/{digest.pk}/stats/" in changelist.content.decode()
    response = admin_client_.get(f"/admin/digests/digest/{digest.pk}/stats/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("Delivery funnel") >= 1 and html.count("Unique clicks per category") >= 1
    assert "33.33%" in html and seeded_send["first"].title in html
    assert admin_client_.get("/admin/digests/digest/999999/stats/").status_code == 404


def test_the_admin_list_growth_page_shows_a_chart(admin_client_, seeded_send):
    response = admin_client_.get("/admin/digests/digest/growth/?days=7")
    assert response.status_code == 200
    assert "<svg" in response.content.decode()


def test_statistics_pages_need_staff_login(client, seeded_send):
    response = client.get(f"/admin/digests/digest/{seeded_send['digest'].pk}/stats/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_delivery_event_admin_lists_events_read_only(admin_client_, seeded_send):
    response = admin_client_.get("/admin/digests/deliveryevent/?event_type__exact=bounced")
    assert response.status_code == 200
    assert "r6@example.com" in response.content.decode()
    assert admin_client_.get("/admin/digests/deliveryevent/add/").status_code == 403
