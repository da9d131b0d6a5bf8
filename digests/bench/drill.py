"""The fault drill: one real send through every fault it must survive, then proof that nothing was lost.

``fault_drill`` (the command) calls ``drill_run``. In a throwaway PostgreSQL
database it makes N readers and the seed digest, starts a local SMTP server
(``DrillSMTP``), a real Celery worker and beat as subprocesses, and starts the
send. During the send it SIGKILLs the worker and starts another, terminates
every PostgreSQL backend of its own database, kills every client connection
of its own Redis databases and pauses Redis for 3 s, and has the SMTP server answer 421 to
every message for 10 s; throughout, some recipients get 450 once and others
550. Then it checks the ledger and the inbox (``DrillResult.problems``).

Only services on this machine are touched: the database and Redis must be on
127.0.0.1 (or localhost), and only backends of the drill's own database are
terminated; so are only the Redis connections of the drill's own databases.
``CLIENT PAUSE`` holds the whole Redis server for its length: never point
the drill at a Redis other people use.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

SEED = Path(settings.BASE_DIR) / "digests" / "fixtures" / "ai-digest-2026-02-06.md"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}
QUEUES = ("transactional", "bulk", "housekeeping")
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
SMTP_TIMEOUT = 3  # seconds: a dead worker's journal deadline is 4 x this + 5
RECOVERY_TARGET_SECONDS = 60


@dataclass(frozen=True)
class Pace:
    """How long the faults last and how long the send would take without them."""

    gap: float  # seconds between two faults
    redis_pause_ms: int
    outage: float  # seconds of SMTP 421
    send: float  # seconds the send takes without faults (it sets the rate)


FULL = Pace(gap=3, redis_pause_ms=3000, outage=10, send=25)
# The test suite's: the same faults in the same order, each shorter. The send still outlasts them,
# as the SIGKILLed worker's claims come back only at its journals' deadline (4 x SMTP_TIMEOUT + 5 s).
QUICK = Pace(gap=1, redis_pause_ms=1000, outage=3, send=12)


class DrillRefused(Exception):
    """The drill cannot run here (not PostgreSQL and Redis on this machine, aiosmtpd missing)."""


class DrillSMTP:
    """A local SMTP server that records every accepted message and answers with the drill's faults.

    * ``outage_until`` (a ``time.monotonic()`` value): 421 to every MAIL FROM until then;
    * ``refuse``: 550 to RCPT TO, always;
    * ``defer_once``: 450 to the first RCPT TO of each of these addresses, then accepted.
    """

    def __init__(self, *, refuse: set[str], defer_once: set[str]):
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            raise DrillRefused("the drill's SMTP server needs aiosmtpd: pip install -e '.[drill]'") from None
        self.refuse = refuse
        self.defer_once = defer_once
        self.deferred: set[str] = set()
        self.outage_until = 0.0
        self.answered_421 = 0
        self.received: dict[str, list[str]] = defaultdict(list)  # address -> Message-IDs accepted
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}?timeout={SMTP_TIMEOUT}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if time.monotonic() < self.outage_until:
            with self.lock:
                self.answered_421 += 1
            return "421 4.3.2 Service not available, closing transmission channel"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        with self.lock:
            if address in self.defer_once and address not in self.deferred:
                self.deferred.add(address)
                return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        head = content.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        with self.lock:
            for address in envelope.rcpt_tos:
                self.received[address].append(found.group(1).decode() if found else "")
        return "250 Message accepted"

    def count(self) -> int:
        with self.lock:
            return sum(len(ids) for ids in self.received.values())

    def close(self) -> None:
        self.controller.stop()


@dataclass
class Fault:
    name: str
    at: float  # seconds since the send started
    ended: float
    detail: str = ""


@dataclass
class DrillResult:
    readers: int
    rate: float
    batch_size: int
    faults: list[Fault] = field(default_factory=list)
    once: int = 0
    repeated_same_id: int = 0
    repeated_other: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    refused: int = 0
    refused_recorded: int = 0
    deferred: int = 0
    deferred_delivered: int = 0
    answered_421: int = 0
    ambiguous: int = 0
    unfinished: int = 0
    digest_status: str = ""
    clean_rate: float = 0.0  # messages/s before the first fault: the floor
    completed_at: float | None = None
    last_fault_ended: float = 0.0

    @property
    def recovery(self) -> float | None:
        return None if self.completed_at is None else self.completed_at - self.last_fault_ended

    @property
    def floor(self) -> float:
        """How long the same send takes without faults, at the rate measured before the first one."""
        return self.readers / self.clean_rate if self.clean_rate else 0.0

    @property
    def problems(self) -> list[str]:
        found = []
        if self.digest_status != "sent":
            found.append(f"the digest is {self.digest_status}, not sent")
        if self.missing:
            found.append(f"{len(self.missing)} readers got nothing, e.g. {self.missing[:3]}")
        if self.unexpected:
            found.append(f"{len(self.unexpected)} refused or unknown addresses got mail, e.g. {self.unexpected[:3]}")
        if self.repeated_other:
            found.append(
                f"{len(self.repeated_other)} readers got a second copy outside the in-flight case, e.g. {self.repeated_other[:3]}"
            )
        if self.refused_recorded != self.refused:
            found.append(
                f"only {self.refused_recorded} of {self.refused} refused (550) recipients are recorded failed with the reason"
            )
        if self.deferred_delivered != self.deferred:
            found.append(f"only {self.deferred_delivered} of {self.deferred} deferred (450) recipients were delivered on retry")
        if self.unfinished:
            found.append(f"{self.unfinished} deliveries stayed pending or sending")
        if self.recovery is None or self.recovery > RECOVERY_TARGET_SECONDS:
            found.append(f"the send did not complete within {RECOVERY_TARGET_SECONDS} s of the last fault")
        if self.faults and self.completed_at is not None and self.completed_at <= self.last_fault_ended:
            found.append("the send finished before the last fault: use more readers")
        return found

    def table(self) -> str:
        rows = [
            ("Readers", f"{self.readers:,}"),
            ("Delivered exactly once", f"{self.once:,}"),
            ("Repeated copy with the same Message-ID (in flight at a fault)", str(self.repeated_same_id)),
            ("Repeated copy with another Message-ID", str(len(self.repeated_other))),
            ("Missing", str(len(self.missing))),
            ("550 recipients recorded failed with the reason", f"{self.refused_recorded}/{self.refused}"),
            ("450-once recipients delivered on retry", f"{self.deferred_delivered}/{self.deferred}"),
            ("421 answers during the SMTP outage", str(self.answered_421)),
            ("Ambiguous deliveries recorded by the sweeper", str(self.ambiguous)),
            ("Pending or sending at the end", str(self.unfinished)),
        ]
        rows += [
            (f"Fault: {fault.name}", f"at {fault.at:.1f} s{(' ' + fault.detail) if fault.detail else ''}")
            for fault in self.faults
        ]
        completed = f"{self.completed_at:.1f} s" if self.completed_at is not None else "never"
        recovery = f"{self.recovery:.1f} s (target {RECOVERY_TARGET_SECONDS} s)" if self.recovery is not None else "never"
        rows += [
            ("Send completed", completed),
            ("Recovery: last fault ended → send complete", recovery),
            (
                "Floor: the same send without faults (rate before the first fault)",
                f"{self.floor:.1f} s ({self.clean_rate:.1f} emails/s)",
            ),
            ("Wall time ÷ floor", f"{self.completed_at / self.floor:.2f}" if self.completed_at and self.floor else "—"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"| {'Check'.ljust(width)} | Result |", f"|{'-' * (width + 2)}|--------|"]
        lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
        return "\n".join(lines)


def machine() -> str:
    """The CPU model and the number of cores, for the figures."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def drill_check_services() -> None:
    """Refuse unless the database is PostgreSQL and the broker and cache are Redis, all on this machine."""
    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        raise DrillRefused("the drill needs PostgreSQL: set DATABASE_URL=postgres://…@127.0.0.1/…")
    if (db.get("HOST") or "") not in LOCAL_HOSTS:
        raise DrillRefused(f"the drill only touches a database on this machine, not {db['HOST']}")
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):
        url = urlsplit(getattr(settings, name))
        if url.scheme != "redis":
            raise DrillRefused(f"the drill needs Redis: set {name}=redis://127.0.0.1:6379/N")
        if (url.hostname or "") not in LOCAL_HOSTS:
            raise DrillRefused(f"the drill only touches a Redis on this machine, not {url.hostname} ({name})")


def _database_url(name: str) -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db.get('USER') or 'postgres'}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"


def _use(name: str) -> None:
    connections.close_all()
    settings.DATABASES["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name


def _admin_sql(sql: str) -> None:
    with connection._nodb_cursor() as cursor:
        cursor.execute(sql)


class _Processes:
    """The drill's worker and beat subprocesses."""

    def __init__(self, env: dict, log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.running: list[subprocess.Popen] = []
        self.count = 0

    def _start(self, *args: str) -> subprocess.Popen:
        self.count += 1
        log = open(self.log_dir / f"drill-{os.getpid()}-{self.count}-{args[0]}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "newsletter", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append(process)
        return process

    def worker(self) -> subprocess.Popen:
        return self.workers(1)[0]

    def workers(self, count: int) -> list[subprocess.Popen]:
        """Start ``count`` workers at once and wait until each answers a ping (their start-ups overlap)."""
        from newsletter.celery import app

        started = {}
        for _ in range(count):
            name = f"drill{os.getpid()}n{self.count + 1}@{os.uname().nodename}"
            started[name] = self._start(
                "worker",
                "-Q",
                ",".join(QUEUES),
                "--pool",
                "prefork",
                "-c",
                "2",
                "--loglevel",
                "WARNING",
                "-n",
                name,
                "--without-gossip",
                "--without-mingle",
            )
        waiting = set(started)
        deadline = time.monotonic() + 60
        while waiting and time.monotonic() < deadline:
            if any(started[name].poll() is not None for name in waiting):
                raise RuntimeError(f"the drill's worker exited at start; see {self.log_dir}")
            for reply in app.control.ping(timeout=0.5, destination=sorted(waiting)):
                waiting -= set(reply)
        if waiting:
            raise RuntimeError(f"the drill's worker did not start; see {self.log_dir}")
        return list(started.values())

    def beat(self, schedule: Path) -> subprocess.Popen:
        return self._start("beat", "-s", str(schedule), "--loglevel", "WARNING")

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def _populate(readers: int) -> tuple[int, list[str]]:
    from digests.content.digest_format import digest_parse
    from digests.content.services import digest_import
    from digests.models import Subscriber

    digest = digest_import(digest_parse(SEED.read_bytes()))
    addresses = [f"drill{i}@example.org" for i in range(readers)]
    # No categories chosen: every reader gets the whole digest.
    Subscriber.objects.bulk_create([Subscriber(email=address, status="active") for address in addresses], batch_size=2000)
    return digest.pk, addresses


def _refuse_unless_empty(template: str) -> None:
    """A template's readers or digests would be sent to as well and spoil the drill's counts."""
    from digests.models import Delivery, Digest, Subscriber

    if Subscriber.objects.exists() or Digest.objects.exists() or Delivery.objects.exists():
        raise DrillRefused(f"the template database {template} holds readers or digests; give one without any")


def _terminate_backends(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        return cursor.fetchone()[0]


def _redis_kill_and_pause(pause_ms: int) -> int:
    """Cut every connection to the drill's Redis databases (the broker's and the cache's), then pause Redis.

    Like the PostgreSQL fault, the cut spares other databases' clients: a site or a second test process
    sharing this Redis loses nothing (``CLIENT KILL TYPE normal`` would cut them all). The pause cannot be
    narrowed: it holds every client of the server for its length."""
    import redis
    from redis.connection import parse_url

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    ours = {str(parse_url(url).get("db", 0)) for url in (settings.CELERY_BROKER_URL, settings.CACHE_URL)}
    try:
        me = str(client.client_id())
        with client.pipeline(transaction=False) as pipe:
            for entry in client.client_list(_type="normal"):
                if entry["db"] in ours and entry["id"] != me:
                    pipe.client_kill_filter(_id=entry["id"])
            # A client that closed between the list and its kill answers "No such client": not counted.
            killed = sum(1 for reply in pipe.execute(raise_on_error=False) if reply == 1)
        client.client_pause(pause_ms)
    finally:
        client.close()
    return killed


def drill_run(
    *, readers: int, keep: bool = False, pace: Pace = FULL, template: str | None = None, say=lambda line: None
) -> DrillResult:
    """Run the whole drill; the result says what happened and ``problems`` what went wrong.

    ``template``: an already migrated database without readers or digests (the test suite's own)
    that the throwaway one is copied from (``CREATE DATABASE … TEMPLATE``), a second or so instead
    of the ~25 s migrating a new one takes on a 2-core machine; ``migrate`` still runs after the
    copy and applies whatever the template lacks."""
    drill_check_services()
    if template is not None and (not template or '"' in template):
        raise DrillRefused(f"not a database name: {template!r}")
    import redis

    batch = 20
    # Slow enough that every fault lands inside the send: about pace.send seconds without faults.
    rate = max(2.0, round(readers / pace.send, 1))
    step = max(1, readers // 25)
    refuse = {f"drill{i}@example.org" for i in range(7, readers, step * 3)}
    defer_once = {f"drill{i}@example.org" for i in range(11, readers, step * 3)} - refuse
    result = DrillResult(readers=readers, rate=rate, batch_size=batch)
    original = settings.DATABASES["default"]["NAME"]
    name = f"{original}_drill_{os.getpid()}"
    log_dir = Path(settings.VAR_DIR) / "drill"
    log_dir.mkdir(parents=True, exist_ok=True)
    schedule = log_dir / f"beat-{os.getpid()}"
    smtp = DrillSMTP(refuse=refuse, defer_once=defer_once)
    processes = None
    if template:
        # PostgreSQL refuses (after waiting up to 5 s) while anyone else is connected to the template.
        _admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    else:
        _admin_sql(f'CREATE DATABASE "{name}"')
    try:
        _use(name)
        copied = f" (a copy of {template})" if template else ""
        say(f"database {name}{copied}: migrating and adding {readers} readers")
        call_command("migrate", verbosity=0)
        if template:
            _refuse_unless_empty(template)
        digest_id, addresses = _populate(readers)
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        broker.delete(*QUEUES)  # no task of an earlier run reaches this database
        broker.close()
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(name),
            "EMAIL_URL": smtp.url,
            "DELIVERY_RATE_PER_SECOND": str(rate),
            "DELIVERY_BATCH_SIZE": str(batch),
            "DELIVERY_RETRY_BASE_SECONDS": "2",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(settings.BASE_DIR),
        }
        processes = _Processes(env, log_dir)
        # Two workers, as a production site runs several: one is SIGKILLed and replaced.
        worker, _ = processes.workers(2)
        processes.beat(schedule)
        say(f"two workers and beat running; sending to {readers} readers at {rate}/s, batches of {batch}")
        _send(digest_id, smtp, processes, worker, result, name, pace, say)
        _check(digest_id, addresses, smtp, refuse, defer_once, result)
    finally:
        if processes:
            processes.stop_all()
        smtp.close()
        _use(original)
        if not keep:
            _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for leftover in log_dir.glob(f"beat-{os.getpid()}*"):
            leftover.unlink()
    return result


def _send(digest_id, smtp: DrillSMTP, processes: _Processes, worker, result: DrillResult, name: str, pace: Pace, say) -> None:
    from digests.delivery.schedule import digest_start
    from digests.models import Digest

    digest_start(Digest.objects.get(pk=digest_id), immediate=True, allow_stale=True)
    started = time.monotonic()

    def now() -> float:
        return time.monotonic() - started

    def sent() -> bool:
        return Digest.objects.filter(pk=digest_id, status=Digest.Status.SENT).exists()

    # A tenth of the send goes out cleanly: its rate is the floor the result is compared with.
    target = max(1, result.readers // 10)
    while smtp.count() < target and now() < 60:
        time.sleep(0.05)
    result.clean_rate = smtp.count() / now()

    at = now()
    processes.kill(worker)
    processes.worker()
    result.faults.append(Fault("a worker SIGKILLed, another started", at, now(), f"(up after {now() - at:.1f} s)"))
    say(f"{at:5.1f} s  SIGKILLed a worker; a new one is up")
    time.sleep(pace.gap)

    at = now()
    terminated = _terminate_backends(name)
    result.faults.append(Fault("pg_terminate_backend, every backend of the database", at, now(), f"({terminated} backends)"))
    say(f"{at:5.1f} s  terminated {terminated} PostgreSQL backends of {name}")
    time.sleep(pace.gap)

    at = now()
    killed = _redis_kill_and_pause(pace.redis_pause_ms)
    pause = pace.redis_pause_ms / 1000
    result.faults.append(
        Fault(f"Redis CLIENT KILL (its databases' clients) + CLIENT PAUSE {pause:g} s", at, at + pause, f"({killed} clients)")
    )
    say(f"{at:5.1f} s  killed {killed} Redis clients and paused Redis for {pause:g} s")
    time.sleep(pause + pace.gap)

    at = now()
    smtp.outage_until = time.monotonic() + pace.outage
    time.sleep(pace.outage)
    result.faults.append(Fault(f"SMTP answers 421 to every message for {pace.outage:g} s", at, now()))
    say(f"{at:5.1f} s  SMTP answered 421 to every message until {now():.1f} s")
    result.last_fault_ended = max(fault.ended for fault in result.faults)
    if sent():
        result.completed_at = result.last_fault_ended
        return

    deadline = time.monotonic() + RECOVERY_TARGET_SECONDS * 4
    while time.monotonic() < deadline:
        if sent():
            result.completed_at = now()
            say(f"{result.completed_at:5.1f} s  the digest is sent")
            return
        time.sleep(0.25)


def _check(digest_id, addresses, smtp: DrillSMTP, refuse, defer_once, result: DrillResult) -> None:
    from digests.models import Delivery, DeliveryEvent, Digest

    result.digest_status = Digest.objects.values_list("status", flat=True).get(pk=digest_id)
    result.answered_421 = smtp.answered_421
    deliveries = {
        email: (status, error)
        for email, status, error in Delivery.objects.filter(digest_id=digest_id).values_list(
            "subscriber__email", "status", "last_error"
        )
    }
    ambiguous = set(
        DeliveryEvent.objects.filter(delivery__digest_id=digest_id, event_type="ambiguous").values_list(
            "subscriber__email", flat=True
        )
    )
    result.ambiguous = len(ambiguous)
    result.unfinished = sum(1 for status, _ in deliveries.values() if status in ("pending", "sending"))
    with smtp.lock:
        received = {address: list(ids) for address, ids in smtp.received.items()}
    counts = Counter({address: len(ids) for address, ids in received.items()})
    expected = set(addresses) - refuse
    result.missing = sorted(expected - set(counts))
    result.unexpected = sorted(set(counts) - expected)
    for address in expected & set(counts):
        if counts[address] == 1:
            result.once += 1
        elif address in ambiguous and len(set(received[address])) == 1:
            result.repeated_same_id += 1
        else:
            result.repeated_other.append(address)
    result.refused = len(refuse)
    result.refused_recorded = sum(
        1 for address in refuse if deliveries[address][0] == "failed" and "550" in deliveries[address][1]
    )
    result.deferred = len(defer_once)
    result.deferred_delivered = sum(
        1 for address in defer_once if address in smtp.deferred and deliveries[address][0] == "sent" and counts.get(address)
    )
