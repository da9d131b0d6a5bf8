"""The floor a send is measured against: ready-made messages pushed raw to the same SMTP sink
(or, for a provider API, ready-made API calls replayed raw to the same stub).

No database, no Celery, no rendering: each of ``connections`` threads opens
one SMTP connection and sends its share of the messages with ``smtplib``, as
fast as the sink takes them. A send can at best approach this rate on the same
machine, so ``bench_send`` reports its own rate as a ratio to the floor it
measured in the same run.
"""

from __future__ import annotations

import smtplib
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Floor:
    messages: int
    connections: int
    seconds: float
    average_bytes: int

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        return (
            f"floor: {self.messages} ready-made messages ({self.average_bytes / 1024:.1f} KB on average) pushed raw over "
            f"{self.connections} SMTP connection(s) in {self.seconds:.1f}s: {self.per_second:.0f} messages/s"
        )


def smtp_floor(*, host: str, port: int, messages: list[bytes], count: int, connections: int, sender: str) -> Floor:
    """Send ``count`` messages (cycling through ``messages``) to host:port over ``connections`` connections."""
    shares = [count // connections + (1 if index < count % connections else 0) for index in range(connections)]
    errors: list[BaseException] = []
    ready = threading.Barrier(connections + 1)

    def push(share: int, offset: int) -> None:
        try:
            with smtplib.SMTP(host, port, timeout=30) as smtp:
                ready.wait()
                for number in range(share):
                    smtp.sendmail(sender, [f"floor{offset + number}@example.org"], messages[(offset + number) % len(messages)])
        except BaseException as exc:  # reported to the caller below
            errors.append(exc)
            ready.abort()

    threads = []
    offset = 0
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
        raise RuntimeError(f"the floor could not be measured: {errors[0]!r}")
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
