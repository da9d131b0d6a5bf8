"""bench_signup's client: real signups (form, CSRF, distinct addresses and clients), failures counted, not raised."""

import urllib.parse

import pytest

from digests.bench.signup import WebClient, phase_run
from digests.models import Subscriber, TransactionalEmail


@pytest.fixture
def server(live_server, settings, categories):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    address = urllib.parse.urlsplit(live_server.url)
    return WebClient(address.hostname, address.port)


@pytest.mark.django_db(transaction=True)
def test_each_bench_signup_is_a_real_pending_reader_from_its_own_client_address(server, settings):
    settings.SIGNUP_RATE_PER_IP = "1/h"  # one signup per client address: more would be refused with 429

    phase = phase_run("signup", 3, 6, lambda n: server.signup(n, run="t"))

    assert phase.done == 6 and not phase.errors
    readers = Subscriber.objects.filter(email__endswith="@bench-signup.example.org")
    assert readers.count() == 6 and {r.status for r in readers} == {Subscriber.Status.PENDING}
    assert all(r.categories.exists() for r in readers)
    assert TransactionalEmail.objects.filter(subscriber__in=readers, kind="confirmation").count() == 6


@pytest.mark.django_db(transaction=True)
def test_a_second_run_within_the_hour_comes_from_other_client_addresses(live_server, settings, categories):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.SIGNUP_RATE_PER_IP = "1/h"
    address = urllib.parse.urlsplit(live_server.url)

    runs = []
    for run in ("first", "second"):
        client = WebClient(address.hostname, address.port)
        runs.append(phase_run("signup", 2, 4, lambda n, client=client, run=run: client.signup(n, run=run)))

    assert [phase.done for phase in runs] == [4, 4] and not any(phase.errors for phase in runs)


@pytest.mark.django_db(transaction=True)
def test_a_refused_request_is_counted_by_kind_and_the_phase_goes_on(server):
    phase = phase_run("missing page", 2, 4, lambda n: server.get_ok("/no-such-page/", n))

    assert phase.done == 0
    assert sum(phase.errors.values()) == 4 and "HTTP 404" in next(iter(phase.errors))
