"""Fixtures for the delivery tests: a real SMTP server and a real Celery worker."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from email import message_from_bytes, policy
from email.parser import BytesHeaderParser

import pytest
from django.conf import settings

from tests.helpers.paths import ROOT
from tests.helpers.redis_databases import redis_database_flush
from tests.helpers.services import free_port, services_available

logging.getLogger("mail.log").setLevel(logging.WARNING)


class Inbox:
    """What a real SMTP server received: envelope recipients and raw bytes, in order."""

    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()
        self.refuse: dict[str, str] = {}  # address -> SMTP reply to RCPT
        self.pipelining = False  # announce PIPELINING (aiosmtpd handles pipelined commands in order)
        self.stall_after: int | None = None  # from this many messages on, keep each DATA unanswered
        self.stall_each_after: int | None = None  # the same, counted on each connection by itself
        self.stalled: list[str] = []  # recipients of the messages received but never answered
        self.reply_delay = 0.0  # seconds before each DATA is answered: a relay far away
        self.sessions = 0  # SMTP sessions opened (EHLO)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
            session.received = getattr(session, "received", 0) + 1
            stall = (self.stall_after is not None and len(self.messages) > self.stall_after) or (
                self.stall_each_after is not None and session.received > self.stall_each_after
            )
            if stall:
                self.stalled.extend(envelope.rcpt_tos)
        if stall:
            # The message is here but the sender never hears so: for it, the call is in flight.
            await asyncio.sleep(600)
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 Message accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def by_recipient(self) -> Counter:
        with self.lock:
            return Counter(rcpt for rcpts, _ in self.messages for rcpt in rcpts)

    def parsed(self):
        with self.lock:
            return [(rcpts, message_from_bytes(raw, policy=policy.default), raw) for rcpts, raw in self.messages]

    def message_ids(self) -> dict[str, set[str]]:
        """Each recipient's Message-IDs, one per copy received, whatever the order of arrival.

        Only the headers are parsed: a whole send's bodies take seconds to parse, and no test here reads them."""
        parser = BytesHeaderParser(policy=policy.default)
        ids: dict[str, set[str]] = {}
        with self.lock:
            received = list(self.messages)
        for rcpts, raw in received:
            message_id = str(parser.parsebytes(raw)["Message-ID"])
            for rcpt in rcpts:
                ids.setdefault(rcpt, set()).add(message_id)
        return ids


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}?timeout=1"
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_bulk(settings, smtp_server):
    """Bulk mail of this test process goes to the real SMTP server."""
    from newsletter.env import email_url_parse

    settings.MAIL_CONNECTIONS = {**settings.MAIL_CONNECTIONS, "bulk": email_url_parse("EMAIL_URL", smtp_server.url)}
    return smtp_server


@pytest.fixture
def https_site(settings):
    settings.SITE_URL = "https://news.example.com"
    settings.DEFAULT_FROM_EMAIL = "AI 行业动态 <digest@newsletter.example.com>"
    settings.SITE_NAME = "AI 行业动态"


def _database_url() -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Worker:
    """A real ``celery worker`` subprocess on the test database and broker."""

    def __init__(self, env: dict):
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log = ROOT / "var" / f"test-worker-{os.getpid()}-{time.monotonic_ns()}.log"
        self.name = f"test{time.monotonic_ns()}"
        self.hostname = f"{self.name}@{socket.gethostname()}"

    def start(self, timeout: float = 30) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting: several workers' start-ups then overlap."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        from digests.bench.workers import celery_worker

        self.process = celery_worker(
            self.env,
            queue="bulk,transactional,housekeeping,webhooks",
            concurrency=2,
            name=self.name,
            loglevel="INFO",
            stdout=open(self.log, "ab"),  # noqa: SIM115  (the worker writes to it until stopped)
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        from newsletter.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: see {self.log}")
            if app.control.ping(timeout=0.5, destination=[self.hostname]):
                return
        raise RuntimeError(f"worker did not start: see {self.log}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def end(self) -> None:
        """After the test: SIGKILL what still runs. The test has read what it needed, and a warm
        shutdown waits seconds for the pool; the next test empties the broker and the database."""
        if self.process and self.process.poll() is None:
            self.kill()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # The main process only: it lets the pool finish its tasks (warm shutdown).
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture
def worker_env(transactional_db, smtp_server, https_site):
    if not services_available():
        pytest.skip("needs PostgreSQL and Redis")
    redis_database_flush(settings.CELERY_BROKER_URL)  # tasks left by an earlier run would confuse this one
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CACHE_URL": settings.CACHE_URL,
        "EMAIL_URL": smtp_server.url,
        "SITE_URL": settings.SITE_URL,
        "DEFAULT_FROM_EMAIL": settings.DEFAULT_FROM_EMAIL,
        "SECRET_KEY": settings.SECRET_KEY,
        "DELIVERY_BATCH_SIZE": "100",
        "PYTHONPATH": str(ROOT),
    }
    return env


@pytest.fixture
def worker(worker_env):
    """Start with ``worker.start()``; every worker started is stopped at the end."""
    started: list[Worker] = []

    def make() -> Worker:
        w = Worker(worker_env)
        started.append(w)
        return w

    yield make
    for w in started:
        w.end()
    if started:
        from kombu import pools

        from newsletter.celery import app

        # Starting a worker pinged it over the broker; close those connections here, where they are
        # idle, so a later fork (tests that render in child processes) does not inherit and hang on them.
        pools.reset()
        app._after_fork()  # the next task this process queues opens a fresh pool
