"""A worker killed while each of its SMTP connections has a message in flight.

Every batch sends over several connections at once (DELIVERY_SMTP_CONNECTIONS),
each journalling its own lane. The server below receives messages but, from
some point on, never answers their DATA: every connection of every pool
process ends up with one message in flight (the server stalls each connection
after its own first few messages: a count over all of them could stall a batch
after one of its lanes had already sent its whole range, leaving that lane with
nothing in flight). After a SIGKILL and recovery,
exactly those messages are ambiguous (sent again, with the same Message-ID);
every other reader gets exactly one copy and nobody is lost.
"""

import datetime
import time

import pytest
from django.utils import timezone

from digests.delivery.batch import HOLD_SECONDS, PREPARE_SECONDS
from digests.delivery.journal import journal_read
from digests.delivery.schedule import deliveries_recover, digest_start
from digests.models import Category, Delivery, DeliveryEvent, Digest, Item
from tests.helpers.readers import make_readers
from tests.helpers.services import needs_services, wait_for

pytestmark = [needs_services, pytest.mark.django_db(transaction=True)]

CONNECTIONS = 3
POOL_PROCESSES = 2  # the test worker's -c
# The stalled calls' SMTP timeout, longer than the test waits for every connection to stall: no stalled
# call may time out before the kill. It was 20 s; with the fault drill setting up in the other test
# process, the last connection once took 21.5 s to stall, and the first ones had timed out and
# reconnected meanwhile (11 messages in flight instead of 6).
STALL_WAIT = 60
# Fewer than any lane holds (a claim is DELIVERY_BATCH_SIZE per connection): every connection stalls
# inside the first batch its process sends.
STALL_EACH_AFTER = 20
SMTP_TIMEOUT = 90


def _held_batches(digest):
    tokens = set(Delivery.objects.filter(digest=digest, status="sending").values_list("claim_token", flat=True))
    journals = [journal_read(token) for token in tokens]
    soon = time.time() + HOLD_SECONDS + 0.5
    return sum(1 for journal in journals if journal and not journal.lanes and journal.deadline <= soon)


def _eligible(digest):
    # Every reader the snapshot did not skip: the worker, already running, may have claimed (or even
    # sent) the first batches by the time this is read, so "still pending" would miss them.
    return set(Delivery.objects.filter(digest=digest).exclude(status="skipped").values_list("subscriber__email", flat=True))


def _status(digest):
    return Digest.objects.values_list("status", flat=True).get(pk=digest.pk)


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_worker_killed_with_several_connections_in_flight_repeats_only_those(
    seed_digest, smtp_server, worker, worker_env, pipelining
):
    digest_categories = set(Item.objects.filter(digest=seed_digest).values_list("category_id", flat=True))
    make_readers(1200, categories=list(Category.objects.all()), digest_categories=digest_categories)
    worker_env["DELIVERY_SMTP_CONNECTIONS"] = str(CONNECTIONS)
    worker_env["EMAIL_URL"] = smtp_server.url.replace("timeout=1", f"timeout={SMTP_TIMEOUT}")
    smtp_server.pipelining = pipelining
    smtp_server.stall_each_after = STALL_EACH_AFTER
    first = worker()
    first.start()
    digest_start(seed_digest, immediate=True, allow_stale=True)
    eligible = _eligible(seed_digest)
    # Wait until every connection of every pool process is stuck in DATA, then a little more.
    assert wait_for(lambda: len(smtp_server.stalled) >= POOL_PROCESSES * CONNECTIONS, timeout=STALL_WAIT, interval=0.05)
    first.kill()
    # A lane does not wait for its journal write's reply before the data (see LaneJournal): the
    # write reaches Redis, which may not have run it the very instant the worker dies. A sweeper
    # reads a journal only once its deadline has passed, seconds later; a moment stands in for that.
    time.sleep(0.5)
    stalled = set(smtp_server.stalled)
    assert len(stalled) == POOL_PROCESSES * CONNECTIONS, "each connection has exactly one message in flight"
    smtp_server.stall_each_after = None

    # The dead worker's journals promised an answer within the calls' timeout: once that has passed
    # (simulated here, before any other worker runs), the sweeper settles its claims.
    later = timezone.now() + datetime.timedelta(seconds=4 * SMTP_TIMEOUT + 10)
    assert deliveries_recover(now=later).ambiguous == len(stalled)
    worker().start()
    assert wait_for(lambda: _status(seed_digest) == "sent", timeout=120, interval=1, tick=deliveries_recover)
    ambiguous = DeliveryEvent.objects.filter(delivery__digest=seed_digest, event_type="ambiguous")
    assert set(ambiguous.values_list("subscriber__email", flat=True)) == stalled
    counts = smtp_server.by_recipient()
    assert set(counts) == eligible, "a reader is missing or an ineligible reader got mail"
    assert {address for address, n in counts.items() if n > 1} == stalled
    assert all(counts[address] == 2 for address in stalled)
    ids = smtp_server.message_ids()
    assert all(len(ids[address]) == 1 for address in stalled), "the copy sent again has the same Message-ID"
    assert Delivery.objects.filter(digest=seed_digest, status="sent").count() == len(eligible)


def test_a_worker_killed_with_the_next_batch_already_claimed_sends_that_batch_once(seed_digest, smtp_server, worker, worker_env):
    # A task claims and makes its next batch while one is on the wire. Killed then, the batch on
    # the wire leaves one ambiguous message per connection; the one claimed but not handed over
    # comes back whole, none of it ambiguous, and every reader gets exactly one copy otherwise.
    digest_categories = set(Item.objects.filter(digest=seed_digest).values_list("category_id", flat=True))
    make_readers(2000, categories=list(Category.objects.all()), digest_categories=digest_categories)
    worker_env["DELIVERY_SMTP_CONNECTIONS"] = str(CONNECTIONS)
    worker_env["EMAIL_URL"] = smtp_server.url.replace("timeout=1", f"timeout={SMTP_TIMEOUT}")
    smtp_server.pipelining = True
    smtp_server.stall_each_after = STALL_EACH_AFTER
    first = worker()
    first.start()
    digest_start(seed_digest, immediate=True, allow_stale=True)
    eligible = _eligible(seed_digest)
    batch = int(worker_env["DELIVERY_BATCH_SIZE"]) * CONNECTIONS
    assert wait_for(lambda: len(smtp_server.stalled) >= POOL_PROCESSES * CONNECTIONS, timeout=STALL_WAIT, interval=0.05)
    # Each pool process holds its batch on the wire and the next one, claimed and made: held (its
    # journal's deadline HOLD_SECONDS away), not still being made (a PREPARE_SECONDS deadline).
    assert wait_for(
        lambda: Delivery.objects.filter(digest=seed_digest, status="sending").count() == 2 * POOL_PROCESSES * batch,
        timeout=10,
        interval=0.05,
    )
    assert wait_for(lambda: _held_batches(seed_digest) == POOL_PROCESSES, timeout=10, interval=0.05)
    first.kill()
    stalled = set(smtp_server.stalled)
    assert len(stalled) == POOL_PROCESSES * CONNECTIONS
    smtp_server.stall_each_after = None

    # The batches claimed and not handed over come back within HOLD_SECONDS of the kill, long
    # before PREPARE_SECONDS; the ones on the wire wait for their calls' deadline.
    soon = timezone.now() + datetime.timedelta(seconds=HOLD_SECONDS + 1)
    assert HOLD_SECONDS + 1 < PREPARE_SECONDS
    assert deliveries_recover(now=soon).ambiguous == 0
    assert Delivery.objects.filter(digest=seed_digest, status="sending").count() == POOL_PROCESSES * batch
    later = timezone.now() + datetime.timedelta(seconds=4 * SMTP_TIMEOUT + 10)
    assert deliveries_recover(now=later).ambiguous == len(stalled)
    worker().start()
    assert wait_for(lambda: _status(seed_digest) == "sent", timeout=120, interval=1, tick=deliveries_recover)
    counts = smtp_server.by_recipient()
    assert set(counts) == eligible
    assert {address for address, n in counts.items() if n > 1} == stalled
    assert Delivery.objects.filter(digest=seed_digest, status="sent").count() == len(eligible)
