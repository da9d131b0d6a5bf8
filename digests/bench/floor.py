"""The floor a send is measured against: ready-made messages pushed raw to the same SMTP sink
(or, for a provider API, ready-made API calls replayed raw to the same stub).

No database, no Celery, no rendering: each of ``connections`` connections,
spread over as many OS processes as the worker has pool processes, sends its
share of the messages as fast as the sink takes them (when the sink offers
PIPELINING, one round trip a message, each data pre-stuffed with the next
envelope behind it, as the send's own connections do), so the floor is what the wire
and the sink allow here, not what one Python process can do. A send can at best approach this rate on the same
machine, so ``bench_send`` reports its own rate as a ratio to the floor it
measured in the same run.
"""

from __future__ import annotations

import smtplib
import threading
import time
from dataclasses import dataclass

# The share of its floor a send over SMTP aims at (issue 15; docs/performance.md).
TARGET_RATIO = 0.85


@dataclass(frozen=True)
class Floor:
    messages: int
    connections: int
    seconds: float
    average_bytes: int
    when: str = ""  # e.g. "before the send"

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        return (
            f"floor{' ' + self.when if self.when else ''}: {self.messages} ready-made messages ({self.average_bytes / 1024:.1f} KB on average) pushed raw over "
            f"{self.connections} SMTP connection(s) in {self.seconds:.1f}s: {self.per_second:.0f} messages/s"
        )


@dataclass(frozen=True)
class Bracket:
    """The floor measured right before a send and right after it. A shared machine's speed drifts
    from one minute to the next (by a fifth here, within a run), and a send compared with one
    floor alone took that drift for its own: it is compared with the mean of the two, and how far
    apart they are says how steady the machine was."""

    before: Floor
    after: Floor

    @property
    def per_second(self) -> float:
        return (self.before.per_second + self.after.per_second) / 2

    @property
    def spread(self) -> float:
        """How far apart the two floors are, as a share of their mean."""
        return abs(self.before.per_second - self.after.per_second) / self.per_second if self.per_second else 0.0

    def ratio(self, rate: float) -> str:
        """The line bench_send ends with: ``rate`` as a share of the floor, and of each measurement."""
        if not self.per_second:
            return "ratio of the sending phase to the floor: none (the floor sent nothing)"
        parts = ", ".join(
            f"{when} {rate / floor.per_second:.2f}"
            for when, floor in (("before", self.before), ("after", self.after))
            if floor.per_second
        )
        return (
            f"ratio of the sending phase to the floor: {rate / self.per_second:.2f} "
            f"(to the floor before it and after it: {parts}; the two {self.spread:.0%} apart)"
        )


def _stuffed(message: bytes) -> bytes:
    """The DATA section as it goes on the wire: CRLF line ends, leading dots doubled, the final dot line."""
    lines = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"


def _push(smtp: smtplib.SMTP, pipelining: bool, sender: str, share: int, offset: int, data: list[bytes]) -> None:
    """Send ``share`` messages over one open connection with no more round trips than the protocol needs:
    when the server offers PIPELINING, one per message (each data pre-stuffed, with the next message's
    envelope behind it in the same write, as the SMTP lanes send), else one per command."""

    def envelope(number: int) -> bytes:
        return f"MAIL FROM:<{sender}>\r\nRCPT TO:<floor{offset + number}@example.org>\r\nDATA\r\n".encode()

    if pipelining and share:
        smtp.send(envelope(0))
    for number in range(share):
        if pipelining:
            replies = [smtp.getreply()[0] for _ in range(3)]
        else:
            replies = []
            for command in envelope(number).decode().split("\r\n")[:3]:
                smtp.putcmd(command)
                replies.append(smtp.getreply()[0])
        if replies[:2] != [250, 250] or replies[2] != 354:
            raise smtplib.SMTPResponseException(replies[-1], f"the sink refused the envelope: {replies}".encode())
        message = data[(offset + number) % len(data)]
        smtp.send(message + envelope(number + 1) if pipelining and number + 1 < share else message)
        code, answer = smtp.getreply()
        if code != 250:
            raise smtplib.SMTPResponseException(code, answer)


def _process(host, port, data, sender, shares, start, errors) -> None:
    """One OS process of the floor: its connections opened first, then all pushed at once, one thread each."""
    try:
        opened = []
        for _share, _offset in shares:
            smtp = smtplib.SMTP(host, port, timeout=30)
            smtp.ehlo()
            opened.append((smtp, smtp.has_extn("pipelining")))
        start.wait()
        failures: list[BaseException] = []

        def run(smtp, pipelining, share, offset):
            try:
                _push(smtp, pipelining, sender, share, offset, data)
                smtp.quit()
            except BaseException as exc:  # reported to the parent below
                failures.append(exc)

        threads = [
            threading.Thread(target=run, args=(smtp, pipelining, share, offset))
            for (smtp, pipelining), (share, offset) in zip(opened, shares, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            errors.put(repr(failures[0]))
    except BaseException as exc:  # reported to the parent below
        errors.put(repr(exc))
        start.abort()


def smtp_floor(
    *, host: str, port: int, messages: list[bytes], count: int, connections: int, sender: str, processes: int = 1
) -> Floor:
    """Send ``count`` messages (cycling through ``messages``) to host:port over ``connections`` connections
    spread over ``processes`` OS processes (as a worker's pool spreads its connections), each connection
    in its own thread, with PIPELINING when the sink offers it: the wire's own pace on this machine."""
    import multiprocessing

    processes = max(1, min(processes, connections))
    shares = [count // connections + (1 if index < count % connections else 0) for index in range(connections)]
    offsets = [sum(shares[:index]) for index in range(connections)]
    lanes = list(zip(shares, offsets, strict=True))
    data = [_stuffed(message) for message in messages]
    context = multiprocessing.get_context("fork")
    start = context.Barrier(processes + 1)
    errors = context.Queue()
    children = [
        context.Process(target=_process, args=(host, port, data, sender, lanes[index::processes], start, errors), daemon=True)
        for index in range(processes)
    ]
    for child in children:
        child.start()
    try:
        start.wait(timeout=60)
    except threading.BrokenBarrierError:
        pass
    started = time.monotonic()
    for child in children:
        child.join()
    seconds = time.monotonic() - started
    if not errors.empty():
        raise RuntimeError(f"the floor could not be measured: {errors.get()}")
    if any(child.exitcode for child in children):
        raise RuntimeError("the floor could not be measured: a floor process died")
    return Floor(
        messages=count,
        connections=connections,
        seconds=seconds,
        average_bytes=sum(len(message) for message in messages) // len(messages),
    )


@dataclass(frozen=True)
class ApiCall:
    """One provider API request as it went over the wire, to be replayed raw."""

    path: str
    headers: dict
    body: bytes
    recipients: int


@dataclass(frozen=True)
class ApiFloor:
    calls: int
    recipients: int
    connections: int
    seconds: float
    average_bytes: int

    @property
    def per_second(self) -> float:
        """Recipients a second: what a send's emails/s compares with."""
        return self.recipients / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        return (
            f"provider floor: {self.calls} ready-made API calls ({self.average_bytes / 1024:.0f} KB on average, "
            f"{self.recipients} recipients) replayed raw over {self.connections} HTTP connection(s) in {self.seconds:.1f}s: "
            f"{self.calls / self.seconds if self.seconds else 0:.0f} calls/s, {self.per_second:.0f} recipients/s"
        )


def api_floor(*, host: str, port: int, calls: list[ApiCall], count: int, connections: int) -> ApiFloor:
    """Replay ``count`` API calls (cycling through ``calls``) to host:port over ``connections`` keep-alive
    connections, as fast as the server answers: no database, no Celery, no payload building."""
    import http.client

    connections = max(1, min(connections, count))
    shares = [count // connections + (1 if index < count % connections else 0) for index in range(connections)]
    errors: list[BaseException] = []
    ready = threading.Barrier(connections + 1)

    def push(share: int, offset: int) -> None:
        try:
            client = http.client.HTTPConnection(host, port, timeout=60)
            client.connect()
            ready.wait()
            for number in range(share):
                call = calls[(offset + number) % len(calls)]
                client.request("POST", call.path, body=call.body, headers=call.headers)
                response = client.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"the stub answered {response.status}")
            client.close()
        except BaseException as exc:  # reported to the caller below
            errors.append(exc)
            ready.abort()

    threads, offset = [], 0
    for share in shares:
        threads.append(threading.Thread(target=push, args=(share, offset), daemon=True))
        offset += share
    for thread in threads:
        thread.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass
    started = time.monotonic()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    if errors:
        raise RuntimeError(f"the provider floor could not be measured: {errors[0]!r}")
    sent = [calls[index % len(calls)] for index in range(count)]
    return ApiFloor(
        calls=count,
        recipients=sum(call.recipients for call in sent),
        connections=connections,
        seconds=seconds,
        average_bytes=sum(len(call.body) for call in sent) // count,
    )
