"""Signing up: strict validation, the same answer for everyone, honeypot, rate limits."""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from digests.models import Category, Subscriber
from digests.readers.normalise import email_normalise
from digests.readers.ratelimit import rate_limit_allows
from digests.readers.signup import SignupOutcome, subscriber_signup
from digests.rendering.once import rendered_fragments
from tests.helpers.paths import ROOT
from tests.helpers.readers import CSP_NONCE, CSRF_INPUT, make_reader, without_csrf

pytestmark = pytest.mark.django_db
S = Subscriber.Status
URL = "/subscribe/"


def post(client, on_commit, ip="127.0.0.1", **data):
    data.setdefault("categories", [])
    return on_commit(client.post, URL, data, REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE="en")


def test_the_form_offers_every_active_category_checked(client, categories):
    categories[2].is_active = False
    categories[2].save()
    response = client.get(reverse("digests:subscribe"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="email"' in body and 'name="name"' in body
    assert body.count('type="checkbox"') == 2
    assert body.count(" checked>") == 3  # both categories and the daily frequency
    assert "政策与监管" not in body


def test_a_new_address_becomes_pending_and_gets_one_confirmation_email(client, on_commit, categories):
    response = post(client, on_commit, email="New.Reader@Example.COM", name="王小明", categories=[categories[0].pk])
    assert response.status_code == 200
    assert "Check your inbox" in response.content.decode()
    reader = Subscriber.objects.get()
    assert reader.email == "New.Reader@example.com"
    assert reader.status == S.PENDING and reader.source == Subscriber.Source.SIGNUP
    assert reader.name == "王小明"
    assert list(reader.categories.all()) == [categories[0]]
    assert reader.confirmation_sent_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["New.Reader@example.com"]
    assert "/confirm/" in message.body
    assert "example.com" not in message.body.split("/confirm/")[1].split()[0]


def test_the_signup_page_reads_the_categories_once(client, categories, django_assert_num_queries):
    # The ticked boxes and the list come from one query (no second read through a server-side cursor).
    with django_assert_num_queries(1):
        response = client.get(URL)
    assert response.content.decode().count('type="checkbox"') == len(categories)


def test_the_signup_page_and_its_post_take_the_categories_from_the_cache_once_read(
    client, categories, django_capture_on_commit_callbacks, django_assert_num_queries
):
    client.get(URL)
    with django_assert_num_queries(0):
        response = client.get(URL)
    assert response.content.decode().count('type="checkbox"') == len(categories)
    # The POST checks the choices against the cached list: the one statement that writes the reader is all it reads.
    with django_capture_on_commit_callbacks(), django_assert_num_queries(1):
        client.post(URL, {"email": "cached@example.com", "categories": [categories[1].pk]})
    assert list(Subscriber.objects.get().categories.all()) == [categories[1]]


def test_a_category_deactivated_while_the_site_runs_can_no_longer_be_chosen(client, on_commit, categories):
    client.get(URL)
    categories[2].is_active = False
    categories[2].save()

    response = post(client, on_commit, email="late@example.com", categories=[categories[2].pk])

    assert 'name="email"' in response.content.decode() and not Subscriber.objects.exists()


def test_a_category_change_committed_after_a_page_read_the_old_list_is_on_the_next_page(
    client, categories, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from digests.readers.categories import CACHE_KEY, VERSION_KEY

    with django_capture_on_commit_callbacks(execute=True):
        categories[0].name = "芯片与算力"
        categories[0].save()
        # Another process reads the committed (old) list between the save and the commit and caches it.
        cache.set(
            CACHE_KEY.format(version=cache.get(VERSION_KEY) or 0), [(categories[0].pk, "模型与研究", "research", 1, "", True)]
        )

    body = client.get(URL).content.decode()

    assert "芯片与算力" in body and "模型与研究" not in body


def test_a_page_that_read_the_old_list_before_a_change_and_stores_it_after_cannot_hide_the_change(
    client, categories, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from digests.readers.categories import CACHE_KEY, VERSION_KEY

    client.get(URL)
    # A slow page looks the list up (a miss, say) and reads the database before the change commits…
    slow_key = CACHE_KEY.format(version=cache.get(VERSION_KEY) or 0)
    old_rows = [(categories[0].pk, "模型与研究", "research", 1, "", True)]
    with django_capture_on_commit_callbacks(execute=True):
        categories[0].name = "芯片与算力"
        categories[0].save()
    # …and stores what it read once the change has committed and the list was dropped.
    cache.set(slow_key, old_rows)

    body = client.get(URL).content.decode()

    assert "芯片与算力" in body and "模型与研究" not in body


def test_without_the_cache_the_signup_page_reads_the_categories_from_the_database(client, categories, cache_down):
    body = client.get(URL).content.decode()

    assert body.count('type="checkbox"') == len(categories) and "模型与研究" in body


def fields_rendered(response) -> bool:
    return "digests/subscribe_fields.html" in [template.name for template in response.templates]


def test_the_empty_form_is_rendered_once_per_language_and_every_visitor_still_gets_their_own_token(client, categories):
    rendered_fragments.clear()
    first, second = client.get(URL), client.get(URL)
    english = client.get(URL, HTTP_ACCEPT_LANGUAGE="en")

    assert fields_rendered(first) and not fields_rendered(second) and fields_rendered(english)
    assert without_csrf(first.content) == without_csrf(second.content)
    tokens = [CSRF_INPUT.search(response.content).group(0) for response in (first, second)]
    nonces = [CSP_NONCE.search(response.content).group(0) for response in (first, second)]
    assert tokens[0] != tokens[1] and nonces[0] != nonces[1]
    assert "Email address" in english.content.decode() and "Email address" not in second.content.decode()


def test_the_check_your_inbox_page_is_rendered_once_per_language_and_every_visitor_still_gets_their_own_token(
    client, on_commit, categories
):
    rendered_fragments.clear()
    answers = [
        post(client, on_commit, ip=f"10.0.0.{n}", email=f"once{n}@example.com", categories=[categories[0].pk]) for n in (1, 2)
    ]
    chinese = on_commit(
        client.post, URL, {"email": "zh@example.com", "categories": [categories[0].pk]}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )

    first, second = (answer.content for answer in answers)
    assert without_csrf(first) == without_csrf(second) and b"Check your inbox" in first
    assert CSRF_INPUT.search(first).group(0) != CSRF_INPUT.search(second).group(0)
    assert CSP_NONCE.search(first).group(0) != CSP_NONCE.search(second).group(0)
    # The header, the language switch and the page itself in the reader's own language, not the first visitor's.
    assert "Check your inbox" not in chinese.content.decode() and 'lang="zh-hans"' in chinese.content.decode()
    assert '<form action="/i18n/setlang/" method="post">' in first.decode()
    assert Subscriber.objects.count() == 3


def test_a_category_renamed_or_added_while_the_site_runs_is_on_the_very_next_page(client, categories):
    client.get(URL)
    categories[0].name = "芯片与算力"
    categories[0].save()
    Category.objects.create(name="开源社区", position=9)

    body = client.get(URL).content.decode()

    assert "芯片与算力" in body and "开源社区" in body and "模型与研究" not in body
    assert body.count('type="checkbox"') == len(categories) + 1


def test_a_form_with_errors_is_rendered_for_its_own_answer(client, on_commit, categories):
    client.get(URL)
    response = post(client, on_commit, email="not-an-address", name="王小明", categories=[categories[1].pk])
    body = response.content.decode()
    assert fields_rendered(response) and 'aria-invalid="true"' in body and 'value="not-an-address"' in body
    assert body.count(" checked>") == 1  # the one category chosen, not every box as on the empty form


def test_the_signup_rate_limit_counts_in_one_window_that_expires(settings):
    from django.core.cache import cache

    if not hasattr(cache, "counter_incr"):
        pytest.skip("the cache is not Redis")
    counts = [rate_limit_allows("test-window", "10.1.2.3", "2/m") for _ in range(3)]
    assert counts == [True, True, False]
    client = cache._cache.get_client(write=True)
    (key,) = client.keys("*ratelimit:test-window:*")
    assert int(client.get(key)) == 3 and 0 < client.ttl(key) <= 61


def test_a_new_signup_writes_the_reader_its_choices_and_the_owed_email_and_nothing_more(
    client, categories, eager_celery, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    # Check the categories, then one statement inserts the reader (stamped), its choices and the owed email
    # (it was seven: the address looked up first, each row on its own, in a transaction). The email goes out
    # after commit.
    # (SQLite, on a laptop, takes the ORM path: the seven.)
    most = 2 if connection.vendor == "postgresql" else 7
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(most):
        client.post(URL, {"email": "quick@example.com", "categories": [categories[0].pk, categories[1].pk]})
    reader = Subscriber.objects.get(email="quick@example.com")
    assert set(reader.categories.all()) == {categories[0], categories[1]}
    assert (reader.status, reader.source, reader.language, reader.frequency, reader.weekly_day) == (
        S.PENDING,
        "signup",
        "zh-hans",
        "daily",
        "sat",
    )
    assert reader.confirmation_sent_at is not None and reader.created_at is not None and reader.key
    owed = reader.transactional_emails.get()
    assert (owed.kind, owed.status, owed.attempts) == ("confirmation", "sent", 1)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["quick@example.com"]


def test_a_returning_address_in_another_case_finds_its_reader_and_writes_nothing_twice(client, on_commit, categories, settings):
    settings.SIGNUP_RATE_PER_ADDRESS = "100/h"
    post(client, on_commit, email="Back@Example.com", categories=[categories[0].pk])
    Subscriber.objects.update(status=S.UNSUBSCRIBED, confirmation_sent_at=timezone.now() - datetime.timedelta(hours=2))
    post(client, on_commit, email="back@example.com", categories=[categories[1].pk], frequency="weekly")
    reader = Subscriber.objects.get()
    assert reader.status == S.PENDING and list(reader.categories.all()) == [categories[1]] and reader.frequency == "weekly"
    assert reader.transactional_emails.count() == 2 and len(mail.outbox) == 2


def test_the_confirmation_email_is_sent_only_after_the_signup_commits(
    client, django_capture_on_commit_callbacks, eager_celery, categories
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(URL, {"email": "later@example.com", "categories": [categories[0].pk]})
        assert mail.outbox == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 1


def test_the_page_language_becomes_the_readers_language(client, on_commit, categories):
    post(client, on_commit, email="en@example.com", categories=[categories[0].pk])
    on_commit(
        client.post, URL, {"email": "zh@example.com", "categories": [categories[0].pk]}, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    )
    assert Subscriber.objects.get(email="en@example.com").language == "en"
    assert Subscriber.objects.get(email="zh@example.com").language == "zh-hans"


def _answer(client, on_commit, email, categories):
    response = post(client, on_commit, email=email, categories=[categories[0].pk])
    return response.status_code, without_csrf(response.content)


@pytest.mark.parametrize("status", [S.PENDING, S.ACTIVE, S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED])
def test_known_and_unknown_addresses_get_the_identical_answer(client, on_commit, categories, status):
    make_reader("known@example.com", status=status)
    unknown = _answer(client, on_commit, "unknown@example.com", categories)
    known = _answer(client, on_commit, "known@example.com", categories)
    assert known == unknown
    assert known[0] == 200


def test_an_active_reader_signing_up_again_is_left_alone(on_commit, categories):
    reader = make_reader("active@example.com", categories=categories[:2])
    outcome = on_commit(subscriber_signup, email="active@example.com", categories=[categories[2]], language="en")
    assert outcome == SignupOutcome.ALREADY_ACTIVE
    reader.refresh_from_db()
    assert reader.status == S.ACTIVE and set(reader.categories.all()) == set(categories[:2])
    assert mail.outbox == []


def test_a_pending_address_gets_at_most_one_confirmation_an_hour(on_commit, categories, settings):
    settings.SIGNUP_RATE_PER_ADDRESS = "100/h"
    first = on_commit(subscriber_signup, email="p@example.com", categories=categories, language="zh-hans")
    second = on_commit(subscriber_signup, email="p@example.com", categories=categories, language="zh-hans")
    assert (first, second) == (SignupOutcome.CREATED, SignupOutcome.THROTTLED)
    assert len(mail.outbox) == 1
    # An hour later another one may go out.
    from datetime import timedelta

    from django.utils import timezone

    Subscriber.objects.update(confirmation_sent_at=timezone.now() - timedelta(minutes=61))
    assert on_commit(subscriber_signup, email="p@example.com", categories=categories, language="zh-hans") == SignupOutcome.RESENT
    assert len(mail.outbox) == 2


@pytest.mark.parametrize("status", [S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED])
def test_a_reader_who_left_must_confirm_again(on_commit, categories, status):
    reader = make_reader("back@example.com", status=status)
    outcome = on_commit(subscriber_signup, email="BACK@example.com", categories=[categories[1]], language="en")
    assert outcome == SignupOutcome.REOPENED
    reader.refresh_from_db()
    assert reader.status == S.PENDING and reader.confirmed_at is None
    assert list(reader.categories.all()) == [categories[1]]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["back@example.com"]
    assert Subscriber.objects.count() == 1


def test_the_honeypot_shows_the_normal_page_and_sends_nothing(client, on_commit, categories):
    normal = post(client, on_commit, email="human@example.com", categories=[categories[0].pk])
    bot = post(client, on_commit, email="bot@example.com", categories=[categories[0].pk], website="http://spam.example")
    assert bot.status_code == normal.status_code == 200
    assert without_csrf(bot.content) == without_csrf(normal.content)
    assert not Subscriber.objects.filter(email="bot@example.com").exists()
    assert [m.to for m in mail.outbox] == [["human@example.com"]]


def test_too_many_signups_from_one_ip_get_a_friendly_429(client, on_commit, categories, settings):
    settings.SIGNUP_RATE_PER_IP = "3/h"
    codes = [post(client, on_commit, email=f"r{i}@example.com", categories=[categories[0].pk]).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    assert Subscriber.objects.count() == 3
    other_ip = post(client, on_commit, ip="10.0.0.9", email="r9@example.com", categories=[categories[0].pk])
    assert other_ip.status_code == 200


def test_the_429_page_is_friendly_and_says_when_to_retry(client, on_commit, categories, settings):
    settings.SIGNUP_RATE_PER_IP = "1/m"
    post(client, on_commit, email="a1@example.com", categories=[categories[0].pk])
    response = post(client, on_commit, email="a2@example.com", categories=[categories[0].pk])
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "Too many attempts" in response.content.decode()


def test_too_many_signups_for_one_address_answer_the_same_and_send_nothing(client, on_commit, categories, settings):
    settings.SIGNUP_RATE_PER_ADDRESS = "2/h"
    make_reader("target@example.com", status=S.UNSUBSCRIBED)
    answers = set()
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        response = post(client, on_commit, ip=ip, email="target@Example.com", categories=[categories[0].pk])
        answers.add((response.status_code, without_csrf(response.content)))
    assert len(answers) == 1 and next(iter(answers))[0] == 200
    # The first attempt reopened it and mailed; the second was throttled hourly; the rest were not even counted as signups.
    assert len(mail.outbox) == 1


def test_the_rate_limit_setting_must_be_well_formed(client, categories, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.SIGNUP_RATE_PER_IP = "ten per hour"
    with pytest.raises(ImproperlyConfigured, match="SIGNUP_RATE_PER_IP"):
        client.post(URL, {"email": "x@example.com"})


@pytest.mark.parametrize(
    "email, message",
    [
        ("a@b", "needs a dot"),
        ("no-at-sign.example.com", "exactly one @"),
        ("two@@example.com", "exactly one @"),
        ("x" * 5000 + "@example.com", "too long"),
        ("x" * 5000, "too long"),
        ("@example.com", "before the @ is missing"),
        ("someone@", "domain after the @ is missing"),
        ("some one@example.com", "not allowed"),
        ("someone@exa_mple.com", "not a valid domain"),
        ("someone@example.com\r\nBcc: victim@example.org", "one line"),
        ("", "Enter your email address"),
    ],
)
def test_a_bad_address_gets_a_clear_error_and_nothing_is_stored(client, on_commit, categories, email, message):
    response = post(client, on_commit, email=email, categories=[categories[0].pk])
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Subscriber.objects.exists() and mail.outbox == []


def test_a_5000_character_address_is_rejected_quickly():
    import time

    from django.core.exceptions import ValidationError

    start = time.perf_counter()
    for _ in range(1000):
        with pytest.raises(ValidationError):
            email_normalise("a" * 5000 + "@" + "b" * 5000)
        with pytest.raises(ValidationError):
            email_normalise("a." * 120 + "@example.com")
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("name", ["Eve\r\nBcc: victim@example.org", "Eve\nX-Header: 1", "Eve\rTo: x@example.org", "Eve\x1b"])
def test_a_name_with_line_breaks_is_rejected(client, on_commit, categories, name):
    response = post(client, on_commit, email="eve@example.com", name=name, categories=[categories[0].pk])
    assert "The name must be on one line" in response.content.decode()
    assert not Subscriber.objects.exists() and mail.outbox == []


def test_at_least_one_category_is_needed(client, on_commit, categories):
    response = post(client, on_commit, email="none@example.com")
    assert "Choose at least one category" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_an_idn_domain_is_stored_punycoded_and_the_confirmation_is_addressed_to_it(client, on_commit, categories):
    post(client, on_commit, email="Wang.Li@例子.中国", categories=[categories[0].pk])
    reader = Subscriber.objects.get()
    assert reader.email == "Wang.Li@xn--fsqu00a.xn--fiqs8s"
    assert [message.to for message in mail.outbox] == [["Wang.Li@xn--fsqu00a.xn--fiqs8s"]]
    assert "Wang.Li@xn--fsqu00a.xn--fiqs8s" in mail.outbox[0].message()["To"]


@pytest.mark.parametrize("address", ["用户@例子.中国", "josé@example.com", "user\u00a0name@example.com"])
def test_it_refuses_an_address_with_a_non_ascii_local_part_with_a_clear_message(client, on_commit, categories, address):
    response = post(client, on_commit, email=address, categories=[categories[0].pk])
    body = response.content.decode()
    assert response.status_code == 200 and "We cannot deliver to an address" in body
    assert "the domain after the @ may be in any script" in body
    assert not Subscriber.objects.exists() and mail.outbox == []


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("  Mixed.Case@EXAMPLE.Com ", "Mixed.Case@example.com"),
        ("user@Bücher.example", "user@xn--bcher-kva.example"),
        ("user@example.com.", "user@example.com"),
        ("o'brien+news@example.co.uk", "o'brien+news@example.co.uk"),
    ],
)
def test_addresses_are_normalised(raw, stored):
    assert email_normalise(raw) == stored


def test_addresses_are_unique_regardless_of_case(client, on_commit, categories, settings):
    settings.SIGNUP_RATE_PER_ADDRESS = "100/h"
    post(client, on_commit, email="Same@Example.com", categories=[categories[0].pk])
    post(client, on_commit, email="same@example.com", categories=[categories[0].pk])
    post(client, on_commit, email="SAME@EXAMPLE.COM", categories=[categories[0].pk])
    assert Subscriber.objects.count() == 1


def test_signup_works_without_any_category_defined(client, on_commit):
    post(client, on_commit, email="solo@example.com")
    assert Subscriber.objects.get().status == S.PENDING


def test_the_pages_speak_chinese_to_chinese_browsers(client, on_commit, categories):
    form = client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in form and "电子邮件地址" in form and "订阅" in form
    done = on_commit(
        client.post, URL, {"email": "zh@example.com", "categories": [categories[0].pk]}, HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert "请查收邮件" in done.content.decode()
    error = on_commit(client.post, URL, {"email": "a@b", "categories": [categories[0].pk]}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "@ 后面的域名需要包含点" in error.content.decode()
    message = mail.outbox[0]
    assert message.subject.startswith("请确认订阅") and "您好" in message.body


def test_a_malformed_rate_setting_stops_start_up():
    import os
    import subprocess
    import sys

    env = {**os.environ, "SIGNUP_RATE_PER_IP": "lots"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SIGNUP_RATE_PER_IP='lots' is invalid: write it as N/s, N/m, N/h or N/d" in result.stderr


def test_behind_a_proxy_the_configured_header_names_the_client(client, on_commit, categories, settings):
    settings.CLIENT_IP_HEADER = "X-Real-IP"
    settings.SIGNUP_RATE_PER_IP = "1/h"
    first = on_commit(
        client.post, URL, {"email": "p1@example.com", "categories": [categories[0].pk]}, HTTP_X_REAL_IP="198.51.100.1"
    )
    second = on_commit(
        client.post, URL, {"email": "p2@example.com", "categories": [categories[0].pk]}, HTTP_X_REAL_IP="198.51.100.2"
    )
    third = on_commit(
        client.post, URL, {"email": "p3@example.com", "categories": [categories[0].pk]}, HTTP_X_REAL_IP="198.51.100.1"
    )
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)


@pytest.mark.parametrize("bad", ["inactive", "999999", "abc"])
def test_a_category_not_offered_is_refused_and_nothing_is_stored(client, on_commit, categories, bad):
    hidden = Category.objects.create(name="Hidden", slug="hidden", is_active=False)
    value = str(hidden.pk) if bad == "inactive" else bad
    response = post(client, on_commit, email="odd@example.com", categories=[categories[0].pk, value])
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert Subscriber.objects.count() == 0 and mail.outbox == []


def test_a_category_sent_twice_is_chosen_once(client, on_commit, categories):
    post(client, on_commit, email="order@example.com", categories=[categories[2].pk, categories[0].pk, categories[0].pk])
    reader = Subscriber.objects.get()
    assert set(reader.categories.all()) == {categories[0], categories[2]}


def test_a_process_forgets_the_list_it_remembered_when_the_cache_was_emptied(client, categories):
    from django.core.cache import cache

    from digests.readers.categories import CACHE_KEY, VERSION_KEY

    client.get(URL)
    # Changed without a save (no signal drops the list), then the cache loses its keys (a Redis restart, a flush).
    Category.objects.filter(pk=categories[0].pk).update(name="芯片与算力")
    cache.delete_many([VERSION_KEY, CACHE_KEY.format(version=cache.get(VERSION_KEY))])

    body = client.get(URL).content.decode()

    assert "芯片与算力" in body and "模型与研究" not in body
