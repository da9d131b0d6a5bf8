"""Spec: before a send, the sending page shows how many readers will receive it, in all and per variant.

The count is the one ``deliveries_snapshot`` will write, made with one grouped
query however many readers there are.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from digests.delivery.audience import digest_audience
from digests.delivery.schedule import digest_start
from digests.delivery.variants import variant_key
from digests.models import Category, Delivery, Subscriber

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def audience(seed_digest):
    policy = Category.objects.get(name="政策与监管")
    elsewhere = Category.objects.create(name="不在本期", slug="elsewhere", position=99)
    everything = [Subscriber.objects.create(email=f"all{i}@example.org", status="active") for i in range(2)]
    policy_only = Subscriber.objects.create(email="policy@example.org", status="active")
    policy_only.categories.set([policy])
    nothing_today = Subscriber.objects.create(email="elsewhere@example.org", status="active")
    nothing_today.categories.set([elsewhere])
    Subscriber.objects.create(email="pending@example.org", status="pending")
    Subscriber.objects.create(email="gone@example.org", status="unsubscribed")
    return {
        "everything": everything,
        "policy": policy,
        "digest_categories": seed_digest.items.values_list("category_id", flat=True),
    }


def test_the_sending_page_counts_the_readers_who_will_receive_it_before_the_send(publisher_client, seed_digest, audience):
    html = publisher_client.get(reverse("admin:digests_digest_sending", args=[seed_digest.pk])).content.decode()

    assert 'id="p-audience">3<' in html
    assert 'id="p-audience-skipped">1<' in html
    variants = html[html.index('id="audience-variants"') :]
    assert "<td>2</td>" in variants and "<td>政策与监管</td><td>1</td>" in variants


def test_the_count_before_is_the_ledger_after_per_variant(seed_digest, audience):
    before = digest_audience(digest=seed_digest)

    report = digest_start(seed_digest, immediate=True, allow_stale=True)

    assert before.recipients == report.pending == 3 and before.skipped == report.skipped == 1
    ledger = {}
    for row in Delivery.objects.filter(digest=seed_digest, status=Delivery.Status.PENDING).values_list("variant", flat=True):
        ledger[row] = ledger.get(row, 0) + 1
    assert before.by_variant == ledger
    assert before.by_variant[variant_key([audience["policy"].pk])] == 1
    assert before.by_variant[variant_key(set(audience["digest_categories"]))] == 2


def test_the_count_costs_the_same_queries_for_ten_readers_or_two_hundred(seed_digest):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            digest_audience(digest=seed_digest)
        return len(captured)

    Subscriber.objects.bulk_create([Subscriber(email=f"a{i}@example.org", status="active") for i in range(10)])
    few = queries()
    Subscriber.objects.bulk_create([Subscriber(email=f"b{i}@example.org", status="active") for i in range(190)])

    assert queries() == few <= 2
    assert digest_audience(digest=seed_digest).recipients == 200


def test_send_now_and_cancel_ask_first_naming_the_issue_the_audience_and_the_time(publisher_client, seed_digest, audience):
    url = reverse("admin:digests_digest_sending", args=[seed_digest.pk])
    html = publisher_client.get(url).content.decode()

    send_now = html[html.index('class="sending-send-now"') :].split(">", 1)[0]
    assert escape(f"Send “{seed_digest}” now to 3 readers?") in send_now and "Asia/Shanghai (UTC+08:00)" in send_now

    publisher_client.post(url + "schedule/", {"send_at": "2026-02-06T07:30"})
    html = publisher_client.get(url).content.decode()
    cancel = html[html.index('class="sending-cancel"') :].split(">", 1)[0]
    assert escape(f"Cancel “{seed_digest}”, scheduled for 2026-02-06 07:30 Asia/Shanghai (UTC+08:00) to 3 readers?") in cancel
    assert "Send time, Asia/Shanghai (UTC+08:00)" in html and "CST" not in html
