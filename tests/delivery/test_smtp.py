"""The SMTP path against a real aiosmtpd server: a batch over several connections, PIPELINING, refusals, outages."""

import contextlib
import uuid

import pytest
from django.conf import settings as django_settings

from digests.delivery.batch import deliveries_send_batch
from digests.delivery.schedule import digest_start
from digests.models import Delivery, Subscriber
from newsletter.env import email_url_parse
from tests.helpers.services import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers(seed_digest):
    return [Subscriber.objects.create(email=f"reader{i}@example.org", status="active") for i in range(4)]


@pytest.mark.parametrize(("connections", "pipelining"), [(1, False), (3, False), (3, True)])
def test_refused_recipients_fail_with_the_servers_reply_and_deferred_ones_wait(
    seed_digest, readers, smtp_bulk, https_site, settings, connections, pipelining
):
    settings.DELIVERY_RETRY_BASE_SECONDS = 60
    settings.DELIVERY_SMTP_CONNECTIONS = connections
    smtp_bulk.pipelining = pipelining
    smtp_bulk.refuse = {"reader1@example.org": "550 5.1.1 No such user", "reader2@example.org": "451 4.2.0 Greylisted"}
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batch(seed_digest.pk)
    assert (report.sent, report.failed, report.retried) == (2, 1, 1)
    by_address = {d.subscriber.email: d for d in Delivery.objects.filter(digest=seed_digest).select_related("subscriber")}
    assert by_address["reader1@example.org"].status == "failed"
    assert "No such user" in by_address["reader1@example.org"].last_error
    assert by_address["reader2@example.org"].status == "pending"
    assert "Greylisted" in by_address["reader2@example.org"].last_error
    assert sorted(smtp_bulk.by_recipient()) == ["reader0@example.org", "reader3@example.org"]


def test_a_deferred_recipient_fails_after_the_maximum_attempts(seed_digest, readers, smtp_bulk, https_site, settings):
    settings.DELIVERY_RETRY_BASE_SECONDS = 0
    settings.DELIVERY_MAX_ATTEMPTS = 3
    smtp_bulk.refuse = {"reader2@example.org": "452 4.2.2 Mailbox full"}
    digest_start(seed_digest, immediate=True, allow_stale=True)
    for _ in range(4):
        deliveries_send_batch(seed_digest.pk)
    delivery = Delivery.objects.get(subscriber__email="reader2@example.org")
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert "gave up after 3 attempts" in delivery.last_error


def test_an_unreachable_server_keeps_every_delivery_waiting(seed_digest, readers, settings, https_site):
    settings.MAIL_CONNECTIONS = {
        **settings.MAIL_CONNECTIONS,
        "bulk": email_url_parse("EMAIL_URL", f"smtp://127.0.0.1:{free_port()}?timeout=1"),
    }
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batch(seed_digest.pk)
    assert report.retried == 4 and report.sent == report.failed == 0
    assert set(Delivery.objects.filter(digest=seed_digest).values_list("status", flat=True)) == {"pending"}


def test_a_reader_who_unsubscribes_before_their_batch_is_not_sent(seed_digest, readers, smtp_bulk, https_site):
    from digests.readers.status import subscriber_transition

    digest_start(seed_digest, immediate=True, allow_stale=True)
    subscriber_transition(readers[0], to="unsubscribed")
    deliveries_send_batch(seed_digest.pk)
    assert "reader0@example.org" not in smtp_bulk.by_recipient()
    assert Delivery.objects.get(subscriber=readers[0]).status == "cancelled"


def test_a_paused_digest_sends_nothing(seed_digest, readers, smtp_bulk, https_site):
    from digests.delivery.schedule import digest_pause

    digest_start(seed_digest, immediate=True, allow_stale=True)
    digest_pause(seed_digest)
    assert deliveries_send_batch(seed_digest.pk).claimed == 0
    assert smtp_bulk.count() == 0


def test_sending_log_lines_carry_digest_batch_and_reader_ids_but_never_an_address(
    seed_digest, readers, smtp_bulk, https_site, caplog
):
    smtp_bulk.refuse = {"reader1@example.org": "550 5.1.1 No such user reader1@example.org"}
    digest_start(seed_digest, immediate=True, allow_stale=True)
    with caplog.at_level("INFO", logger="digests.delivery.batch"):
        deliveries_send_batch(seed_digest.pk)
    lines = [r for r in caplog.records if r.name == "digests.delivery.batch"]
    summary = next(r for r in lines if r.levelname == "INFO")
    failure = next(r for r in lines if r.levelname == "WARNING")
    assert summary.digest_id == failure.digest_id == seed_digest.pk
    assert summary.batch and summary.batch == failure.batch
    assert (summary.sent, summary.failed) == (3, 1)
    assert failure.subscriber_id == readers[1].pk

    from newsletter.logs import JsonLineFormatter

    formatted = [JsonLineFormatter().format(record) for record in lines]
    assert not any("@example.org" in line for line in formatted)


def test_lines_starting_with_a_dot_arrive_intact_over_each_connection(smtp_bulk, settings):
    """The transport dot-stuffs the bytes itself (smtplib's regular expressions are not on the hot path)."""
    from digests.delivery.journal import BatchJournal
    from digests.delivery.messages import Recipient, VariantMessage
    from digests.delivery.transport import Outgoing, transport_send
    from digests.links import reader_links
    from digests.mail import mail_connection

    settings.DELIVERY_SMTP_CONNECTIONS = 2
    smtp_bulk.pipelining = True
    raw = b"Subject: dots\r\nTo: x@example.org\r\n\r\n.first line\r\n..second\r\nplain\r\n.\r\nlast"
    variant = VariantMessage(parts=(raw,))
    items = [
        Outgoing(
            delivery_id=n,
            digest_id=1,
            fields=Recipient(to=f"dots{n}@example.org", message_id=f"<{n}@example.org>", links=reader_links(uuid.uuid4())),
            variant=variant,
        )
        for n in range(4)
    ]
    outcomes = transport_send(mail_connection("bulk"), items, journal=BatchJournal("dots"))
    assert {outcome.code for outcome in outcomes.values()} == {"S"}
    assert sorted(smtp_bulk.by_recipient()) == [f"dots{n}@example.org" for n in range(4)]
    assert {body.replace(b"\r\n", b"\n") for _, body in smtp_bulk.messages} == {raw.replace(b"\r\n", b"\n") + b"\n"}


@pytest.mark.skipif(not django_settings.CACHE_URL.startswith("redis"), reason="needs Redis (CACHE_URL=redis://…)")
def test_a_batch_over_several_connections_keeps_to_the_shared_rate(seed_digest, smtp_bulk, https_site, settings):
    """Every connection reserves its send slots from the one global rate: more connections, same rate."""
    import time

    import redis

    from digests.delivery import throttle

    settings.DELIVERY_SMTP_CONNECTIONS = 3
    settings.DELIVERY_RATE_PER_SECOND = 10  # and a burst of one second's worth
    for n in range(30):
        Subscriber.objects.create(email=f"rated{n}@example.org", status="active")
    redis.Redis.from_url(settings.CACHE_URL).delete(throttle.KEY)
    digest_start(seed_digest, immediate=True, allow_stale=True)
    started = time.monotonic()
    report = deliveries_send_batch(seed_digest.pk)
    elapsed = time.monotonic() - started
    assert report.sent == 30 and smtp_bulk.count() == 30
    assert elapsed >= (30 - 10) / 10 * 0.9, f"30 messages at 10/s (burst 10) went out in {elapsed:.2f}s"


def test_a_batch_interrupted_while_its_connections_send_waits_for_them_and_starts_nothing_new(
    seed_digest, readers, smtp_bulk, https_site, settings, monkeypatch
):
    """A soft time limit arrives in the batch's own thread: the lanes finish the message they are
    sending, attempt nothing else, and only then does the batch give up (the sweeper settles it)."""
    import threading

    from digests.delivery import transport

    settings.DELIVERY_SMTP_CONNECTIONS = 2
    joined = threading.Thread.join
    interrupted = []

    def join_then_interrupt(thread, *args, **kwargs):
        if thread.name.startswith("smtp-lane") and not interrupted:
            interrupted.append(thread.name)
            raise KeyboardInterrupt  # stands for the time limit's signal
        return joined(thread, *args, **kwargs)

    monkeypatch.setattr(threading.Thread, "join", join_then_interrupt)
    real_lane = transport._smtp_lane

    def slow_lane(*args, stop, **kwargs):
        stop.wait(2)  # the lanes see the stop before their first message
        return real_lane(*args, stop=stop, **kwargs)

    monkeypatch.setattr(transport, "_smtp_lane", slow_lane)
    digest_start(seed_digest, immediate=True, allow_stale=True)
    with pytest.raises(KeyboardInterrupt):
        deliveries_send_batch(seed_digest.pk)
    assert smtp_bulk.count() == 0
    assert not any(thread.name.startswith("smtp-lane") for thread in threading.enumerate())


def test_a_lanes_last_journal_write_lands_and_its_redis_connection_is_reused(settings):
    # A lane does not wait for its journal writes' replies before each message; closing it
    # reads the last one and gives the connection back, so batches do not pile up connections.
    from django.core.cache import cache

    from digests.delivery.journal import LANE_KEY, Journal, LaneJournal
    from digests.delivery.outcomes import Code, Outcome

    client = cache._cache.get_client(write=True)
    before = len(client.client_list())
    for index in range(20):
        lane = LaneJournal(f"reuse{index}", 0)
        lane.write(30)
        lane.add(Outcome(Code.SENT))
        lane.write(30)
        lane.close()
    assert len(client.client_list()) <= before + 1
    last = Journal(*cache.get(LANE_KEY.format(token="reuse19", index=0)))
    assert (last.codes, last.in_flight) == (Code.SENT, True)
    # It expires as every journal does: a worker that dies leaves nothing behind for good.
    expires_in = client.ttl(cache.make_and_validate_key(LANE_KEY.format(token="reuse19", index=0)))
    assert 0 < expires_in <= settings.DELIVERY_LEASE_SECONDS * 4


def test_the_lanes_of_batch_after_batch_each_in_a_new_thread_reuse_one_redis_connection():
    # Every batch starts a thread per SMTP connection; their journals used to connect to Redis anew each time.
    import threading

    from digests.delivery.journal import LaneJournal
    from digests.delivery.outcomes import Code, Outcome

    used = []

    def lane(batch: int) -> None:
        journal = LaneJournal(f"threads{batch}", 0)
        journal.write(30)
        used.append(journal._connection._sock.getsockname())
        journal.add(Outcome(Code.SENT))
        journal.close()

    for batch in range(10):
        thread = threading.Thread(target=lane, args=(batch,), name=f"smtp-lane-{batch}")
        thread.start()
        thread.join()
    assert len(used) == 10 and len(set(used)) == 1


@pytest.fixture
def journal_refused(monkeypatch):
    """The lanes' journals go to Redis as a user that may not SET: Redis refuses every lane write."""
    import redis
    from django.core.cache import cache

    from digests.delivery.journal import LaneJournal

    user = f"lanes-refused-{uuid.uuid4().hex[:8]}"
    admin = cache._cache.get_client(write=True)
    admin.acl_setuser(user, enabled=True, nopass=True, keys=["*"], channels=["*"], commands=["+@all", "-set"])
    kwargs = admin.connection_pool.connection_kwargs
    pool = redis.ConnectionPool(host=kwargs["host"], port=kwargs["port"], db=kwargs.get("db", 0), username=user)
    create = LaneJournal.__init__

    def refused_lane(self, token, index):
        create(self, token, index)
        self._pool = pool

    monkeypatch.setattr(LaneJournal, "__init__", refused_lane)
    yield
    pool.disconnect()
    admin.acl_deluser(user)


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_lane_whose_journal_writes_redis_refuses_hands_nothing_over(
    seed_digest, readers, smtp_bulk, https_site, settings, journal_refused, pipelining
):
    # The lane reads each write's reply before its next write: the refusal of the write made
    # while connecting is found before the first message's data, and the lane stops there.
    settings.DELIVERY_SMTP_CONNECTIONS = 1
    smtp_bulk.pipelining = pipelining
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batch(seed_digest.pk)
    assert (report.sent, report.retried) == (0, 4)
    assert smtp_bulk.messages == []
    errors = set(Delivery.objects.filter(digest=seed_digest).values_list("last_error", flat=True))
    assert len(errors) == 1 and "NOPERM" in errors.pop()


def test_a_lane_journal_whose_redis_connection_is_cut_raises_and_leaves_no_broken_connection_behind():
    import redis
    from django.core.cache import cache

    from digests.delivery.journal import LANE_KEY, Journal, LaneJournal
    from digests.delivery.outcomes import Code, Outcome

    lane = LaneJournal("cut", 0)
    lane.write(30)
    local = lane._connection._sock.getsockname()
    cache._cache.get_client(write=True).client_kill(f"{local[0]}:{local[1]}")
    with pytest.raises(redis.ConnectionError):
        # The first write's reply may have come before the cut: the cut shows at the next read at the latest.
        lane.add(Outcome(Code.SENT))
        lane.write(30)
        lane.close()
    with contextlib.suppress(redis.ConnectionError):
        lane.close()  # as the transport does, whether or not the write raised first
    # The next lane gets a working connection from the same pool, not the cut one.
    lane = LaneJournal("after-cut", 0)
    lane.write(30)
    lane.close()
    assert Journal(*cache.get(LANE_KEY.format(token="after-cut", index=0))).in_flight


def test_a_readers_value_that_starts_lines_with_dots_is_stuffed_at_every_seam(smtp_bulk, settings):
    """Each variant's literal segments are stuffed once; what a reader's values bring (a quoted-printable
    value wrapped into lines that start with a dot, one at the start of a line) is stuffed per reader."""
    from digests.delivery.journal import BatchJournal
    from digests.delivery.messages import HEADER, TEXT, Recipient, VariantMessage
    from digests.delivery.transport import Outgoing, transport_send
    from digests.links import ReaderLinks
    from digests.mail import mail_connection

    settings.DELIVERY_SMTP_CONNECTIONS = 1
    smtp_bulk.pipelining = True
    variant = VariantMessage(
        parts=(
            b"Subject: seams\r\nTo: ",
            ("to", HEADER),
            b"\r\n\r\n",
            ("reader_ref", TEXT),
            b"\r\n.a literal line after it\r\n",
            ("reader_ref", TEXT),
            b"=\r\n.",
        )
    )
    links = ReaderLinks(preferences_url="https://x.example/p", unsubscribe_url="https://x.example/u", reader_ref="." * 160)
    reader = Recipient(to="seams@example.org", message_id="<1@example.org>", links=links)
    whole = variant.for_reader(reader)
    assert whole.count(b"\r\n.") >= 6  # the value's wrapped lines, the literal's, the last one
    item = Outgoing(delivery_id=1, digest_id=1, fields=reader, variant=variant)
    outcomes = transport_send(mail_connection("bulk"), [item], journal=BatchJournal("seams"))
    assert [outcome.code for outcome in outcomes.values()] == ["S"]
    [(_, body)] = smtp_bulk.messages
    assert body.replace(b"\r\n", b"\n") == whole.replace(b"\r\n", b"\n") + b"\n"


def _stuffed_by_the_rfc(message: bytes) -> bytes:
    """RFC 5321 4.5.2 applied to a whole message: a dot before every line that starts with one, then the end."""
    lines = message.split(b"\r\n")
    if lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"


@pytest.mark.parametrize(
    "layout",
    [
        (b"Subject: s\r\nTo: ", ("to", "H"), b"\r\n\r\n", ("reader_ref", "t"), b"\r\n.dot%line 100%\r\n", ("reader_ref", "m")),
        (("reader_ref", "t"), b"\r\n", ("preferences_url", "t"), ("reader_ref", "t"), b".\r\n.", ("reader_ref", "t")),
        (b"a\r", ("reader_ref", "t"), b"\n.b\r\n", ("unsubscribe_url", "m"), b"\r\n"),
        (b"no slots at all, 100% literal\r\n.\r\n",),
        (b"x\r\n", ("reader_ref", "T"), b"=\r\n.", ("reader_ref", "T")),
        (b".the message starts with a dot\r\n", ("reader_ref", "t"), b"\r\n"),
        (b"x\r\n", b".a literal after a literal\r\n", ("reader_ref", "t"), b"a\r", b"\n.b", ("reader_ref", "t")),
    ],
)
@pytest.mark.parametrize("reader_ref", ["abc:def", ".dotted", "x", "", "a\r\nb", "line\r\n.dot", "%s%%", "nul\0.dot"])
def test_each_readers_smtp_data_is_their_message_dot_stuffed_as_the_rfc_says(layout, reader_ref):
    """The one-formatting path (values that cannot start or end a line) and the seam-by-seam walk
    (any other value) give exactly the RFC's stuffing of the reader's whole message."""
    from digests.delivery.messages import Recipient, VariantMessage
    from digests.links import ReaderLinks

    variant = VariantMessage(parts=layout)
    links = ReaderLinks(preferences_url="https://x.example/p?a=1&b=2", unsubscribe_url=".u", reader_ref=reader_ref)
    reader = Recipient(to="dots@example.org", message_id="<1@example.org>", links=links)

    try:
        whole = variant.for_reader(reader)
    except ValueError:  # a line break in an 8bit link or a header: unsendable, never stuffed
        return
    assert variant.smtp_data(reader) == _stuffed_by_the_rfc(whole)
