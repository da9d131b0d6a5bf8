"""Measure a whole send: synthetic readers in a throwaway database, a real Celery worker, a real sink."""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

SEED = Path(settings.BASE_DIR) / "digests" / "fixtures" / "ai-digest-2026-02-06.md"


def _smtp_sink(to: str) -> tuple[str, int] | None:
    """(host, port) of an smtp:// sink URL, or None for the provider stubs."""
    from urllib.parse import urlsplit

    parts = urlsplit(to)
    if parts.scheme != "smtp":
        return None
    return parts.hostname or "127.0.0.1", parts.port or 25


def _with_port(url: str, port: int) -> str:
    """``url`` pointing at 127.0.0.1:``port`` instead, its options kept."""
    from urllib.parse import urlsplit

    return urlsplit(url)._replace(netloc=f"127.0.0.1:{port}").geturl()


def _smtp_connections(given: int | None) -> int:
    """Connections per batch for the worker: ``--smtp-connections`` or DELIVERY_SMTP_CONNECTIONS."""
    if given is not None and given < 1:
        raise CommandError("--smtp-connections must be at least 1")
    return given or settings.DELIVERY_SMTP_CONNECTIONS


class Command(BaseCommand):
    help = "Benchmark sending: N synthetic readers, V variants, a real worker, SMTP sink or provider stub."

    def add_arguments(self, parser):
        parser.add_argument("--readers", type=int, default=10000)
        parser.add_argument("--variants", type=int, default=8)
        parser.add_argument("--to", required=True, help="EMAIL_URL of the sink, e.g. smtp://127.0.0.1:2525 or anymail://mailgun")
        parser.add_argument("--concurrency", type=int, default=2, help="Pool processes of each worker (celery worker -c).")
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Separate `celery worker` commands, as if on as many machines, sharing PostgreSQL and Redis.",
        )
        parser.add_argument(
            "--rate",
            type=float,
            help="DELIVERY_RATE_PER_SECOND for the workers: one limit all of them share through Redis (default: none).",
        )
        parser.add_argument("--batch-size", type=int, help="DELIVERY_BATCH_SIZE for the worker (default: the setting)")
        parser.add_argument("--keep", action="store_true", help="Keep the throwaway database.")
        parser.add_argument(
            "--floor-only",
            action="store_true",
            help="Only measure the floor: the same messages pushed raw to the same SMTP sink (no database, no Celery).",
        )
        parser.add_argument(
            "--smtp-connections",
            type=int,
            help="DELIVERY_SMTP_CONNECTIONS for the worker (default: the setting); the floor uses workers × concurrency × this.",
        )
        parser.add_argument(
            "--probe-every",
            type=float,
            default=10.0,
            help="Seconds between timings of the admin's sending page and send_status during the send (0: none).",
        )
        parser.add_argument(
            "--no-snapshot-floor", action="store_true", help="Skip the snapshot's floor (copying the ledger rows once more)."
        )
        parser.add_argument(
            "--rtt-ms",
            type=float,
            default=0.0,
            help="A network's round trip to the SMTP sink: a proxy adds this many ms to every round trip, for the send and its floor alike.",
        )
        parser.add_argument(
            "--floor-messages", type=int, help="Messages the floor pushes (default: as many as readers, at most 20,000)."
        )

    def handle(
        self,
        *args,
        readers: int,
        variants: int,
        to: str,
        concurrency: int,
        keep: bool,
        workers: int = 1,
        rate: float | None = None,
        batch_size=None,
        floor_only=False,
        floor_messages=None,
        smtp_connections=None,
        **options,
    ):
        self.smtp_connections = _smtp_connections(smtp_connections)
        if workers < 1 or concurrency < 1:
            raise CommandError("--workers and --concurrency must be at least 1")
        if rate is not None and rate <= 0:
            raise CommandError("--rate must be above 0 (leave it out for no limit)")
        self.workers, self.rate = workers, rate
        # The floor pushes over as many connections, in as many processes, as all the workers' pools send over.
        processes = workers * concurrency
        self.probe_every = options.get("probe_every", 10.0)
        self.snapshot_floor = not options.get("no_snapshot_floor", False)
        db = settings.DATABASES["default"]
        if "postgresql" not in db["ENGINE"]:
            raise CommandError("bench_send needs PostgreSQL: set DATABASE_URL=postgres://…")
        if not settings.CELERY_BROKER_URL.startswith("redis"):
            raise CommandError("bench_send needs a Redis broker: set CELERY_BROKER_URL=redis://…")
        sink = _smtp_sink(to)
        if floor_only and sink is None:
            raise CommandError("--floor-only measures an SMTP sink: use --to smtp://host:port")
        rtt_ms = options.get("rtt_ms") or 0.0
        if rtt_ms and sink is None:
            raise CommandError("--rtt-ms puts a round trip in front of an SMTP sink: use --to smtp://host:port")
        self.named: dict[int, str] = {}
        proxy = None
        name = f"{db['NAME']}_bench_{os.getpid()}"
        self._admin_sql(f'CREATE DATABASE "{name}"')
        original = db["NAME"]
        floor_count = floor_messages or min(max(readers, 1), 20000)
        # The floor pushes over as many connections as the send: pool processes × connections per batch.
        floor_connections = processes * self.smtp_connections
        try:
            if rtt_ms:
                from digests.bench.latency import LatencyProxy

                proxy = LatencyProxy.start(*sink, rtt_ms)
                self.named[proxy.process.pid] = "latency proxy"
                sink, to = ("127.0.0.1", proxy.port), _with_port(to, proxy.port)
                self.stdout.write(f"a {rtt_ms:g} ms round trip between the sender and the sink (a proxy on port {proxy.port})")
            self._use(name)
            call_command("migrate", verbosity=0)
            digest_id = self._populate(0 if floor_only else readers, variants)
            samples = self._sample_messages(digest_id, variants) if sink else []
            self._use(original)
            if floor_only:
                floor, cpu = self._floor(sink, samples, floor_count, floor_connections, processes)
                self.stdout.write(f"{floor}\n{cpu}".strip())
                return
            if sink:  # measured on both sides of the send (``Bracket``)
                before = self._floor(sink, samples, floor_count, floor_connections, processes, "before the send")
            result = self._run(name, digest_id, to, concurrency, batch_size)
            if getattr(self, "provider_floor", None):
                floor = self.provider_floor
                result += (
                    f"\n{floor}\nratio of the sending phase to the provider floor: {self.sending_rate / floor.per_second:.2f}"
                )
            if sink:
                from digests.bench.floor import TARGET_RATIO, Bracket

                after = self._floor(sink, samples, floor_count, floor_connections, processes, "after the send")
                for floor, cpu in (before, after):
                    result += f"\n{floor}\n{cpu}".rstrip()
                bracket = Bracket(before[0], after[0])
                result += "\n" + bracket.ratio(self.sending_rate)
                if ceiling := self.sending_cpu.ceiling(bracket.per_second, TARGET_RATIO):  # "" off Linux
                    result += "\n" + ceiling
        finally:
            if proxy:
                proxy.stop()
            self._use(original)
            if not keep:
                self._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.stdout.write(result)

    def _sample_messages(self, digest_id: int, variant_count: int) -> list[bytes]:
        """One reader's message per variant, as the worker would send it (same sizes on the wire)."""
        import uuid

        from digests.delivery.messages import Recipient, message_id_for, variant_message
        from digests.links import reader_links
        from digests.models import Category, Digest
        from digests.rendering.inline import variant_inlined

        digest = Digest.objects.get(pk=digest_id)
        samples = []
        for combo in self.combos or [tuple(Category.objects.filter(items__digest=digest).values_list("pk", flat=True))]:
            rendered = variant_inlined(digest, frozenset(combo), language="zh-hans")
            message = variant_message(rendered, digest_id=digest_id, language="zh-hans")
            key = uuid.uuid4()
            recipient = Recipient(to="floor@example.org", message_id=message_id_for(digest_id, key), links=reader_links(key))
            samples.append(message.for_reader(recipient))
        return samples[: max(1, variant_count)]

    def _floor(self, sink: tuple[str, int], samples: list[bytes], count: int, connections: int, processes: int, when: str = ""):
        """The floor, and the CPU per message behind it."""
        import dataclasses
        from email.utils import parseaddr

        from digests.bench.floor import smtp_floor
        from digests.bench.probes import CpuShare

        sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "digest@example.org"
        cpu = CpuShare(f"the floor {when}".strip(), named=self.named).start()
        floor = smtp_floor(
            host=sink[0], port=sink[1], messages=samples, count=count, connections=connections, sender=sender, processes=processes
        )
        cpu.stop().messages = count
        return dataclasses.replace(floor, when=when), cpu

    def _provider_floor(self, stub, connections: int):
        """The API calls the send made (the stub kept the first ones), replayed raw to the same stub as
        many times as the send called it, over as many connections as the worker had processes."""
        from urllib.parse import urlsplit

        from digests.bench.floor import ApiCall, api_floor

        calls = [ApiCall(*sample) for sample in stub.samples]
        if not calls:
            return None
        url = urlsplit(stub.url)
        counted = stub.requests, stub.recipients  # the send's own calls, which the report prints
        floor = api_floor(host=url.hostname, port=url.port, calls=calls, count=stub.requests, connections=connections)
        stub.requests, stub.recipients = counted
        return floor

    def _admin_sql(self, sql: str) -> None:
        # The maintenance database: CREATE/DROP DATABASE cannot run inside the one they name.
        with connection._nodb_cursor() as cursor:
            cursor.execute(sql)

    def _use(self, name: str) -> None:
        connections.close_all()
        settings.DATABASES["default"]["NAME"] = name
        connections["default"].settings_dict["NAME"] = name

    def _populate(self, n: int, variant_count: int) -> int:
        from digests.content.digest_format import digest_parse
        from digests.content.services import digest_import
        from digests.models import Category, Subscriber

        digest = digest_import(digest_parse(SEED.read_bytes()))
        categories = list(Category.objects.filter(items__digest=digest).distinct())
        rng = random.Random(1)
        combos: list[tuple] = []
        while len(combos) < variant_count:
            combo = tuple(sorted(c.pk for c in rng.sample(categories, rng.randint(1, len(categories)))))
            if combo not in combos or len(combos) >= 2 ** len(categories) - 1:
                combos.append(combo)
        self.combos = combos
        through = Subscriber.categories.through
        step = 5000
        for start in range(0, n, step):
            chunk = Subscriber.objects.bulk_create(
                [Subscriber(email=f"bench{i}@example.org", status="active") for i in range(start, min(n, start + step))]
            )
            through.objects.bulk_create(
                [
                    through(subscriber_id=s.pk, category_id=c)
                    for i, s in enumerate(chunk)
                    for c in combos[(start + i) % len(combos)]
                ]
            )
        return digest.pk

    def _run(self, name: str, digest_id: int, to: str, concurrency: int, batch_size: int | None) -> str:
        import redis
        from django.core.cache import cache

        db = settings.DATABASES["default"]
        url = f"postgres://{db.get('USER') or 'postgres'}{(':' + db['PASSWORD']) if db.get('PASSWORD') else ''}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("bulk")
        env = {**os.environ, "DATABASE_URL": url, "EMAIL_URL": to, "LOG_LEVEL": "WARNING"}
        if batch_size:
            env["DELIVERY_BATCH_SIZE"] = str(batch_size)
        env["DELIVERY_SMTP_CONNECTIONS"] = str(self.smtp_connections)
        stub = None
        if to == "anymail://mailgun":
            # The provider-batch path: the real anymail Mailgun backend against a local stub of its API.
            from digests.bench.provider_stub import MailgunStub

            stub = MailgunStub()
            env.update(
                ANYMAIL_MAILGUN_API_URL=stub.url,
                ANYMAIL_MAILGUN_API_KEY="key-bench",
                ANYMAIL_MAILGUN_SENDER_DOMAIN="bench.example.org",
                DEFAULT_FROM_EMAIL="AI 行业动态 <digest@bench.example.org>",
            )
        elif to.startswith("anymail://"):
            raise CommandError("the provider-batch benchmark stubs Mailgun only: use --to anymail://mailgun")
        if self.rate:
            env["DELIVERY_RATE_PER_SECOND"] = str(self.rate)
        names = [f"bench{os.getpid()}-{index + 1}" for index in range(self.workers)]
        workers: list[subprocess.Popen] = []
        measured = False
        try:
            from digests.bench.workers import celery_worker
            from newsletter.celery import app

            workers.extend(celery_worker(env, queue="bulk", concurrency=concurrency, name=worker_name) for worker_name in names)
            for worker_name in names:
                for _ in range(60):
                    if app.control.ping(timeout=0.5, destination=[f"{worker_name}@{os.uname().nodename}"]):
                        break
            self._use(name)
            started = time.monotonic()
            self.snapshot = self._snapshot(digest_id, env)
            snapshot_seconds = time.monotonic() - started
            self._progress(str(self.snapshot))
            peak = 0
            from digests.bench.probes import CpuShare, Probes, RssSeries, process_peak_kb, process_rss_kb, process_tree

            sessions = {
                worker.pid: "worker" if len(workers) == 1 else f"worker {index}" for index, worker in enumerate(workers, 1)
            }
            cpu = CpuShare("sending phase", worker_sessions=sessions, named=self.named).start()
            from digests.delivery.ledger import deliveries_counts
            from digests.models import Delivery, Digest

            probes, rss, last_probe = Probes(digest_id) if self.probe_every else None, RssSeries(), 0.0
            while Digest.objects.filter(pk=digest_id).values_list("status", flat=True).get() != "sent":
                peak = max(peak, *(process_peak_kb(worker.pid) for worker in workers))
                cpu.sample()
                counts = deliveries_counts(digest_id)
                sizes = [size for worker in workers for size in process_rss_kb(worker.pid)]
                rss.add(1 - (counts["pending"] + counts["sending"]) / max(sum(counts.values()), 1), sizes)
                if probes and time.monotonic() - last_probe >= self.probe_every:
                    probes.take()
                    last_probe = time.monotonic()
                    settled = sum(counts.values()) - counts["pending"] - counts["sending"]
                    self._progress(
                        f"[{last_probe - started:.0f}s] {settled:,} of {sum(counts.values()):,} settled; "
                        f"largest worker process {max(sizes, default=0) / 1024:.0f} MB; {probes.latest()}"
                    )
                time.sleep(1 if probes else 0.5)
                if any(worker.poll() is not None for worker in workers):
                    raise CommandError("a worker died; see its output above")
            wall = time.monotonic() - started
            cpu.stop()
            if probes:
                probes.take()  # once more with the whole ledger settled
            self.snapshot = self._snapshot_floor(digest_id)
            self.operator = f"{rss}\n{probes or ''}".strip()
            peak = max(peak, *(process_peak_kb(worker.pid) for worker in workers))
            sent = Delivery.objects.filter(digest_id=digest_id, status="sent").count()
            failed = Delivery.objects.filter(digest_id=digest_id, status="failed").count()
            cpu.messages = sent + failed
            self.sending_cpu = cpu
            calls = sum(
                cache.get(f"delivery:premailer-calls:{pid}") or 0 for worker in workers for pid in process_tree(worker.pid)
            )
            measured = True
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
            if stub:
                self.provider_floor = self._provider_floor(stub, concurrency * len(workers)) if measured else None
                stub.close()
        provider = f"provider stub: {stub.requests} API calls for {stub.recipients} recipients\n" if stub else ""
        self.sending_rate = sent / max(wall - snapshot_seconds, 0.001)
        shared = (
            f"{len(workers)} workers (separate `celery worker` commands, -c {concurrency} each) shared the send\n"
            if len(workers) > 1
            else ""
        )
        if self.rate:
            shared += (
                f"rate limit: {self.rate:g}/s shared by every worker through Redis; "
                f"the sending phase ran at {self.sending_rate / self.rate:.2f} of it\n"
            )
        return (
            f"{self.snapshot}\n"
            f"sent {sent}, failed {failed} in {wall:.1f}s wall ({snapshot_seconds:.1f}s of it the snapshot): "
            f"{sent / wall:.0f} emails/s overall, {self.sending_rate:.0f} emails/s in the sending phase\n"
            f"{shared}"
            f"premailer calls, all worker processes together: {calls}\n"
            f"{provider}"
            f"peak worker process memory (VmHWM): {peak / 1024:.0f} MB\n"
            f"{self.operator}" + (f"\n{cpu}" if str(cpu) else "")
        )

    def _progress(self, line: str) -> None:
        """A line written at once (a long run's figures survive even if it is stopped)."""
        self.stdout.write(line)
        self.stdout.flush()

    def _snapshot(self, digest_id: int, env: dict):
        """Start the send in this process, timing the snapshot apart from any process start-up.

        The Message-IDs the snapshot writes carry the sender's domain, so this
        process sends as the worker does.
        """
        from django.test import override_settings

        from digests.bench.snapshot import snapshot_timed

        overrides = {"DEFAULT_FROM_EMAIL": env.get("DEFAULT_FROM_EMAIL", settings.DEFAULT_FROM_EMAIL)}
        if env.get("DELIVERY_BATCH_SIZE"):
            overrides["DELIVERY_BATCH_SIZE"] = int(env["DELIVERY_BATCH_SIZE"])
        with override_settings(**overrides):
            return snapshot_timed(digest_id)

    def _snapshot_floor(self, digest_id: int):
        """The snapshot's floor, measured once the send is over so it competes with nothing."""
        from digests.bench.snapshot import snapshot_floor

        return snapshot_floor(self.snapshot, digest_id) if self.snapshot_floor else self.snapshot
