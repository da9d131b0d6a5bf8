"""The crash journal: how far a batch got, kept in the shared cache while it sends.

A batch writes its journal before it claims anything and again before every
provider call: one short string (an outcome code per claimed id, in id order)
and a deadline by which its next call will have returned. If the worker dies,
the sweeper reads it once the deadline has passed: what was sent is marked
sent, what was never attempted goes back to pending, and the one message whose
call was in flight is *ambiguous* (see ledger.py). A journal written while no
call is running (preparing the batch, recording its outcomes) says so, and
then nothing is ambiguous.

A batch that sends over several SMTP connections at once splits its claim
into contiguous *lanes*, one per connection. The batch's journal then names
the lanes, and each connection keeps a journal of its own for its lane,
written before each message is handed over (and, under PIPELINING, while the
envelope is on its way, or its replies are, when it went behind the previous
message's data, so the write costs no extra round trip). The sweeper
joins them: a dead worker leaves at most one ambiguous message per
connection, and nothing else repeats. A lane's write is one SET on a Redis
connection the lane keeps, whose reply it reads before its next write rather
than before the message's data (LaneJournal says why that is safe).
"""

from __future__ import annotations

import time
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from digests.delivery.outcomes import Code, Outcome

JOURNAL_KEY = "delivery:journal:{token}"
LANE_KEY = "delivery:journal:{token}:lane{index}"
# In a joined journal (``journal_joined``): the call for this id may have started / was never attempted.
IN_FLIGHT, NOT_ATTEMPTED = "?", "."
# Redis's reply to a SET that went through.
_OK = b"+OK\r\n"


class Journal(NamedTuple):
    deadline: float  # a timestamp
    codes: str
    in_flight: bool  # whether the call for the id after ``codes`` may have started
    reasons: dict[int, str]  # the error of each failed (refused) delivery, by its index in ``codes``
    lanes: tuple = ()  # (start, end) index ranges, one per connection, each with its own LaneJournal


def _ttl() -> int:
    return settings.DELIVERY_LEASE_SECONDS * 4


def journal_write(token: str, done: list[Outcome] | str, *, busy_for: float, in_flight: bool = True, lanes: tuple = ()) -> None:
    """Record progress: the outcomes (or their codes) of the first len(done) claimed ids, in id order,
    and that the worker will have returned from its next provider call (or, with ``in_flight=False``,
    written its journal again) within ``busy_for`` seconds. With ``lanes``, the progress is in each
    lane's own journal (``LaneJournal``) instead."""
    if isinstance(done, str):
        codes, reasons = done, {}
    else:
        codes = "".join(outcome.code for outcome in done)
        reasons = {index: outcome.error for index, outcome in enumerate(done) if outcome.code == Code.FAILED}
    deadline = timezone.now().timestamp() + busy_for
    cache.set(JOURNAL_KEY.format(token=token), Journal(deadline, codes, in_flight, reasons, tuple(lanes)), timeout=_ttl())


def journal_read(token: str) -> Journal | None:
    """The journal of a claim, or None when it has none."""
    value = cache.get(JOURNAL_KEY.format(token=token))
    if isinstance(value, str):
        # Written by a worker of the previous release: "deadline|codes", a call in flight.
        deadline, _, codes = value.partition("|")
        return Journal(float(deadline), codes, True, {})
    return Journal(*value) if value else None


def journal_expire(token: str) -> None:
    """Declare that no call of this claim is in flight any more (the sweeper may settle it now)."""
    journal = journal_read(token)
    expired = journal._replace(deadline=0.0, in_flight=True) if journal else Journal(0.0, "", True, {}, ())
    cache.set(JOURNAL_KEY.format(token=token), expired, timeout=_ttl())


def journal_forget(token: str) -> None:
    journal = journal_read(token)
    keys = [JOURNAL_KEY.format(token=token)]
    if journal:
        keys += [LANE_KEY.format(token=token, index=index) for index in range(len(journal.lanes))]
    cache.delete_many(keys)


class LaneJournal:
    """One connection's journal for its lane of a batch: the lane's outcomes so far, and whether its next call is in flight.

    On Redis a lane keeps one connection of the cache's pool and does not wait for a write's reply
    before the message's data goes: it reads it before the next write (or at ``close``), so the
    lane waits for the mail server alone. What makes that safe: the SET is in the kernel before the
    data is, and a killed worker's socket is closed by the kernel, which still delivers what was
    written; Redis runs its commands in order, and a reply left unread can only be that of the last
    write, which Redis has then run already. A write Redis refuses is found one message later, and
    breaks the lane like a refused write always did."""

    def __init__(self, token: str, index: int):
        self.codes = ""  # grown by one character a message: cheaper than joining a list on every write
        self.reasons: dict[int, str] = {}
        self._pool = self._connection = None
        self._unread = False
        key = LANE_KEY.format(token=token, index=index)
        backend = caches["default"]
        if isinstance(backend, RedisCache):
            # Same pool, key and serialisation as Django's RedisCache, without its client object per call;
            # the SET command's bytes around the value made once (RESP: each argument length-prefixed).
            self._pool = backend._cache.get_client(key, write=True).connection_pool
            self._key, self._dumps = backend.make_and_validate_key(key), backend._cache._serializer.dumps
            name = self._key.encode()
            self._set_prefix = b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n" % (len(name), name)
            ttl = str(_ttl()).encode()
            self._set_suffix = b"\r\n$2\r\nEX\r\n$%d\r\n%s\r\n" % (len(ttl), ttl)
        else:
            self._key = key

    def add(self, outcome: Outcome) -> None:
        """The next id of the lane has its outcome (the call returned); journalled with the next ``write``."""
        if outcome.code == Code.FAILED:
            self.reasons[len(self.codes)] = outcome.error
        self.codes += outcome.code

    def write(self, busy_for: float, *, in_flight: bool = True) -> None:
        """Like ``journal_write`` for the lane: the outcomes added so far, and whether the next call may start."""
        # A plain tuple, read back as a Journal (``journal_joined``): pickling the NamedTuple
        # calls back into Python, and this write comes once per message.
        value = (time.time() + busy_for, self.codes, in_flight, self.reasons)
        if self._pool is None:
            cache.set(self._key, value, timeout=_ttl())
            return
        self._read_reply()
        if self._connection is None:
            self._connection = self._pool.get_connection()
        data = self._dumps(value)
        self._connection.send_packed_command([b"%s$%d\r\n%s%s" % (self._set_prefix, len(data), data, self._set_suffix)])
        self._unread = True

    def _read_reply(self) -> None:
        if not self._unread:
            return
        self._unread = False
        connection = self._connection
        # The one reply outstanding, read off the socket: a SET's is one line, "+OK" or an error,
        # and redis-py's general reader cost twice the syscall behind it, once per message.
        try:
            reply = connection._sock.recv(512)
            while reply[-2:] != b"\r\n":
                more = connection._sock.recv(512)
                if not more:
                    raise RedisConnectionError("Redis closed the connection before its reply to the lane's journal write")
                reply += more
        except BaseException as exc:
            connection.disconnect()  # half a reply, or none: the connection cannot go back to the pool as it is
            if isinstance(exc, OSError):  # timeouts included
                raise RedisConnectionError(f"reading the lane journal's reply from Redis: {exc}") from exc
            raise
        if reply != _OK:
            # A whole reply was read, so the connection stays usable; the lane breaks on the refusal.
            raise ResponseError(reply[1:-2].decode("utf-8", "replace"))

    def close(self) -> None:
        """The last write's reply read and the connection back in the pool (raises what Redis refused)."""
        connection = self._connection
        if connection is None:
            return
        try:
            self._read_reply()
        except BaseException:
            connection.disconnect()
            raise
        finally:
            self._connection, self._unread = None, False
            self._pool.release(connection)


def journal_joined(token: str, journal: Journal) -> Journal:
    """A journal with lanes as one: a code per claimed id (IN_FLIGHT and NOT_ATTEMPTED included) and the
    latest deadline of all. A deadline of 0 (``journal_expire``) stays 0: no call is running any more.
    Once the batch journals its outcomes itself (all of them, after sending), its own codes win."""
    if not journal.lanes or journal.codes:
        return journal
    keys = [LANE_KEY.format(token=token, index=index) for index in range(len(journal.lanes))]
    found = cache.get_many(keys)
    codes, reasons, deadline = [], {}, journal.deadline
    for key, (start, end) in zip(keys, journal.lanes, strict=True):
        lane = found.get(key)
        lane = Journal(*lane) if lane else Journal(0.0, "", False, {})
        if journal.deadline:
            deadline = max(deadline, lane.deadline)
        codes.append(lane.codes[: end - start])
        reasons.update({start + index: reason for index, reason in lane.reasons.items()})
        rest = end - start - len(lane.codes)
        if rest > 0:
            codes.append((IN_FLIGHT if lane.in_flight else NOT_ATTEMPTED) + NOT_ATTEMPTED * (rest - 1))
    return Journal(deadline, "".join(codes), False, reasons)


class BatchJournal:
    """A batch's journal as a transport writes it: called like ``journal_write`` (one connection), or
    ``split`` into lanes, one per connection, each then writing its own ``LaneJournal``."""

    def __init__(self, token: str):
        self.token = token
        self.lanes: tuple = ()

    def __call__(self, done: list[Outcome] | str, busy_for: float, *, in_flight: bool = True) -> None:
        journal_write(self.token, done, busy_for=busy_for, in_flight=in_flight, lanes=self.lanes)

    def split(self, ranges: list[tuple[int, int]], busy_for: float) -> list[LaneJournal]:
        """Before any lane starts: the ids in ``ranges`` (index ranges of the claim) go over one connection each."""
        self.lanes = tuple(ranges)
        journal_write(self.token, "", busy_for=busy_for, in_flight=False, lanes=self.lanes)
        return [LaneJournal(self.token, index) for index in range(len(ranges))]
