"""One round trip per message on each SMTP connection (RFC 2920): a message's data goes with the next
message's envelope behind it, and exactly-once holds through refusals, outages and interruptions.

The server here is a raw-socket stub (tests/helpers/smtp_stub.py) that can withhold its reply to a
message's data until the next message's MAIL FROM has arrived: a client that waits for that reply
before sending the next envelope never gets it, and the stub lists the message in ``misses``.
"""

import threading
import time
import uuid

import pytest

from digests.delivery.batch import deliveries_send_batch
from digests.delivery.journal import LaneJournal
from digests.delivery.schedule import digest_start
from digests.delivery.transport import THROTTLE_CHUNK
from digests.models import Delivery, Subscriber
from newsletter.env import email_url_parse
from tests.helpers.services import wait_for
from tests.helpers.smtp_stub import StubSMTP

pytestmark = pytest.mark.django_db

READERS = [f"reader{n}@example.org" for n in range(5)]


@pytest.fixture
def stub_bulk(settings):
    """Bulk mail goes over one connection to a stub server the test configures first: ``stub_bulk(**options)``."""
    started = []

    def start(timeout: float = 30, **options) -> StubSMTP:
        stub = StubSMTP(**options)
        started.append(stub)
        settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "bulk": email_url_parse("EMAIL_URL", stub.url(timeout=timeout))}
        settings.DELIVERY_SMTP_CONNECTIONS = 1
        return stub

    yield start
    for stub in started:
        stub.close()


@pytest.fixture
def readers(seed_digest):
    # Claimed in this order (one variant, ids in creation order), so each is the next one's predecessor.
    return [Subscriber.objects.create(email=address, status="active") for address in READERS]


def _statuses(digest) -> dict[str, tuple[str, str]]:
    rows = Delivery.objects.filter(digest=digest).values_list("subscriber__email", "status", "last_error")
    return {email: (status, error) for email, status, error in rows}


def test_a_messages_next_envelope_goes_before_the_reply_to_its_data(seed_digest, readers, stub_bulk, https_site):
    stub = stub_bulk(hold_until_next_mail={"reader0@example.org"})
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batch(seed_digest.pk)
    assert stub.misses == [], "the next message's MAIL FROM never came before the reply to reader0's data"
    assert report.sent == len(READERS)
    assert stub.by_recipient() == dict.fromkeys(READERS, 1)
    assert {status for status, _ in _statuses(seed_digest).values()} == {"sent"}
    [session] = stub.sessions
    assert session.ended == "quit"


def test_each_message_is_journalled_in_flight_before_its_data_reaches_the_server(
    seed_digest, readers, stub_bulk, https_site, monkeypatch
):
    """What keeps a killed worker's ambiguity to one message per connection, chained or not: the lane's
    journal says a message is in flight before its data goes. The journal here is slow, so data sent
    before its journal write would reach the server while the journal still named the message before."""
    journalled = []  # per lane write, as it starts: (messages with an outcome so far, whether the next is in flight)
    write = LaneJournal.write

    def slow_write(self, busy_for, *, in_flight=True):
        time.sleep(0.05)
        journalled.append((len(self.codes), in_flight))
        write(self, busy_for, in_flight=in_flight)

    monkeypatch.setattr(LaneJournal, "write", slow_write)
    seen = []
    stub = stub_bulk(before_data_reply=lambda recipient: seen.append((recipient, journalled[-1])))
    digest_start(seed_digest, immediate=True, allow_stale=True)

    assert deliveries_send_batch(seed_digest.pk).sent == len(READERS)
    assert seen == [(address, (index, True)) for index, address in enumerate(READERS)]
    assert stub.by_recipient() == dict.fromkeys(READERS, 1)


@pytest.mark.parametrize("refused", [0, 2], ids=["its own envelope", "an envelope behind the data before"])
def test_a_server_that_says_354_to_a_refused_envelope_is_left_without_quit_in_the_message(
    seed_digest, readers, stub_bulk, https_site, refused
):
    """A broken server answers DATA with 354 though it refused the recipient: the session is unusable.
    The connection is closed as it stands: a QUIT would be read as message text, and the client would
    wait for its reply until the socket's timeout. The readers from there on wait, nobody is lost."""
    stub = stub_bulk(timeout=5, rcpt_replies={READERS[refused]: "550 5.1.1 No such user"}, data_despite_refusal=True)
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batch(seed_digest.pk)

    [session] = stub.sessions
    wait_for(lambda: session.ended, timeout=10)
    assert session.ended == "closed in data" and session.after_354_unused
    assert not any(b"QUIT" in line.upper() for lines in session.data_lines for line in lines)
    assert report.sent == refused and stub.by_recipient() == dict.fromkeys(READERS[:refused], 1)
    statuses = _statuses(seed_digest)
    assert {statuses[address][0] for address in READERS[refused:]} == {"pending"}


@pytest.mark.parametrize(
    ("data_reply", "reader3_status"),
    [("554 5.7.1 Message refused", "failed"), ("451 4.3.0 Try again later", "pending")],
    ids=["data refused", "data deferred"],
)
def test_refusals_in_a_chain_give_the_same_outcomes_and_lose_no_other_reader(
    seed_digest, readers, stub_bulk, https_site, settings, data_reply, reader3_status
):
    """reader2's chained envelope is refused at RCPT (the session is reset before reader3's envelope);
    reader3's data is refused or deferred with reader4's envelope already behind it, which stands."""
    settings.DELIVERY_RETRY_BASE_SECONDS = 60
    stub = stub_bulk(
        rcpt_replies={"reader2@example.org": "550 5.1.1 No such user"},
        data_replies={"reader3@example.org": data_reply},
        # reader2's envelope goes behind reader1's data, reader4's behind reader3's refused data.
        hold_until_next_mail={"reader1@example.org", "reader3@example.org"},
    )
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batch(seed_digest.pk)
    assert stub.misses == []
    assert stub.by_recipient() == {"reader0@example.org": 1, "reader1@example.org": 1, "reader4@example.org": 1}
    statuses = _statuses(seed_digest)
    assert statuses["reader2@example.org"][0] == "failed" and "No such user" in statuses["reader2@example.org"][1]
    assert statuses["reader3@example.org"][0] == reader3_status and data_reply[4:] in statuses["reader3@example.org"][1]
    assert {statuses[address][0] for address in ("reader0@example.org", "reader1@example.org", "reader4@example.org")} == {"sent"}
    assert (report.sent, report.failed, report.retried) == (3, 1 + (reader3_status == "failed"), int(reader3_status == "pending"))
    [session] = stub.sessions
    assert [command.upper() for command in session.commands].count("RSET") == 1, "one reset, after the refused envelope only"
    assert session.ended == "quit"


def test_a_421_mid_chain_breaks_the_lane_and_the_rest_wait(seed_digest, readers, stub_bulk, https_site):
    """The server answers reader2's data with 421 and hangs up while reader3's envelope waits behind it."""
    stub = stub_bulk(
        data_replies={"reader2@example.org": "421 4.3.2 Shutting down"},
        hold_until_next_mail={"reader2@example.org"},
    )
    digest_start(seed_digest, immediate=True, allow_stale=True)
    report = deliveries_send_batch(seed_digest.pk)
    assert stub.misses == []
    assert stub.by_recipient() == {"reader0@example.org": 1, "reader1@example.org": 1}
    statuses = _statuses(seed_digest)
    assert [statuses[address][0] for address in READERS] == ["sent", "sent", "pending", "pending", "pending"]
    assert "Shutting down" in statuses["reader2@example.org"][1]
    assert (report.sent, report.failed) == (2, 0)


def test_a_lane_stopped_with_a_chained_envelope_open_closes_without_quit_and_returns_at_once(stub_bulk, settings):
    """Stopped right as reader0's data is answered: reader1's envelope is on the wire (the server may
    have said 354 and wait for its data). Its data never goes, nothing ends it with a dot, no QUIT goes
    into it, and the lane does not wait for the socket's timeout."""
    from digests.delivery.journal import BatchJournal
    from digests.delivery.transport import INTERRUPTED, transport_send
    from digests.mail import mail_connection

    stop = threading.Event()

    def stop_before_replying(recipient: str) -> None:
        if recipient == "reader0@example.org":
            stop.set()

    stub = stub_bulk(hold_until_next_mail={"reader0@example.org"}, before_data_reply=stop_before_replying)
    settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "bulk": email_url_parse("EMAIL_URL", stub.url(timeout=60))}
    items = _outgoing(3)
    result = {}
    sending = threading.Thread(
        target=lambda: result.update(transport_send(mail_connection("bulk"), items, journal=BatchJournal("stop"), stop=stop))
    )
    sending.start()
    sending.join(20)
    assert not sending.is_alive(), "the lane waited for its socket's timeout (60 s)"
    assert stub.misses == [], "reader1's envelope was not on the wire when the lane stopped"
    assert [result[n].code for n in range(3)] == ["S", "O", "O"]
    assert result[1].error == INTERRUPTED
    assert stub.by_recipient() == {"reader0@example.org": 1}
    [session] = stub.sessions
    assert wait_for(lambda: session.ended, timeout=10)
    assert "RCPT TO:<reader1@example.org>" in session.commands
    assert "QUIT" not in [command.upper() for command in session.commands]
    assert session.ended in ("closed", "closed in data")
    assert all(lines == [] for lines in session.data_lines[1:]), "nothing of reader1's message went"


def _outgoing(count: int, *, unsendable: set[int] = frozenset()):
    from digests.delivery.messages import Recipient, VariantMessage
    from digests.delivery.transport import Outgoing
    from digests.links import reader_links

    variant = VariantMessage(parts=(b"Subject: chained\r\nTo: x@example.org\r\n\r\nbody\r\n",))
    return [
        Outgoing(
            delivery_id=n,
            digest_id=1,
            fields=Recipient(to=f"reader{n}@example.org", message_id=f"<{n}@example.org>", links=reader_links(uuid.uuid4())),
            variant=variant,
            error="an unsendable address" if n in unsendable else "",
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "unsendable", "not_chained"),
    [(THROTTLE_CHUNK + 2, set(), THROTTLE_CHUNK - 1), (4, {2}, 1)],
    ids=["the next message starts a throttle chunk", "the next message cannot be sent"],
)
def test_no_envelope_is_chained_into_a_throttle_wait_or_an_unsendable_message(
    stub_bulk, settings, count, unsendable, not_chained
):
    """The throttle may wait before a new chunk, and a server is never left in DATA across that wait;
    an unsendable message has no envelope at all. The message before either is sent alone: its data
    reply is withheld in vain (the stub gives up after a second), and everything still arrives once."""
    from digests.delivery.journal import BatchJournal
    from digests.delivery.transport import transport_send
    from digests.mail import mail_connection

    settings.DELIVERY_RATE_PER_SECOND = 10_000  # a limit, so each chunk may wait (here it never has to)
    holds = {f"reader{n}@example.org" for n in (0, not_chained)}
    stub = stub_bulk(hold_until_next_mail=holds, hold_seconds=1)
    outcomes = transport_send(mail_connection("bulk"), _outgoing(count, unsendable=unsendable), journal=BatchJournal("alone"))
    assert stub.misses == [f"reader{not_chained}@example.org"]
    assert [outcomes[n].code for n in range(count)] == ["F" if n in unsendable else "S" for n in range(count)]
    assert stub.by_recipient() == {f"reader{n}@example.org": 1 for n in range(count) if n not in unsendable}


def test_without_a_rate_limit_the_chain_runs_on_across_throttle_chunks(stub_bulk, settings):
    """Unlimited (DELIVERY_RATE_PER_SECOND = 0) the throttle never waits, so nothing breaks the chain."""
    from digests.delivery.journal import BatchJournal
    from digests.delivery.transport import transport_send
    from digests.mail import mail_connection

    settings.DELIVERY_RATE_PER_SECOND = 0
    last_of_a_chunk = f"reader{THROTTLE_CHUNK - 1}@example.org"
    stub = stub_bulk(hold_until_next_mail={last_of_a_chunk}, hold_seconds=10)
    outcomes = transport_send(mail_connection("bulk"), _outgoing(THROTTLE_CHUNK + 2), journal=BatchJournal("unlimited"))
    assert stub.misses == []
    assert {outcome.code for outcome in outcomes.values()} == {"S"}
    assert stub.by_recipient() == {f"reader{n}@example.org": 1 for n in range(THROTTLE_CHUNK + 2)}
