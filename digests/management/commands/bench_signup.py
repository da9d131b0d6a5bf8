"""Measure the web tier: signups, a page view and /metrics on gunicorn, each against /healthz, with the worker running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

SEED = Path(settings.BASE_DIR) / "digests" / "fixtures" / "ai-digest-2026-02-06.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Command(BaseCommand):
    help = (
        "Benchmark the web tier on gunicorn (3 workers) and PostgreSQL with the confirmation worker running: "
        "signups from distinct client addresses, a page view and /metrics, each with /healthz as its floor."
    )

    def add_arguments(self, parser):
        parser.add_argument("--signups", type=int, default=2000, help="Signups per concurrency level.")
        parser.add_argument("--requests", type=int, default=2000, help="Requests per page-view, /metrics and floor phase.")
        parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50])
        parser.add_argument("--web-workers", type=int, default=3)
        parser.add_argument(
            "--threads", type=int, default=1, help="gunicorn threads per worker (more than 1: the gthread worker class)."
        )
        parser.add_argument("--worker-concurrency", type=int, default=2, help="The confirmation worker's processes.")
        parser.add_argument(
            "--mail-to", help="EMAIL_URL for the confirmations (default: an outbox folder in a temporary directory)."
        )
        parser.add_argument("--keep", action="store_true", help="Keep the throwaway database.")

    def handle(self, *args, signups, requests, concurrency, web_workers, threads, worker_concurrency, mail_to, keep, **options):
        db = settings.DATABASES["default"]
        if "postgresql" not in db["ENGINE"]:
            raise CommandError("bench_signup needs PostgreSQL: set DATABASE_URL=postgres://…")
        if not settings.CELERY_BROKER_URL.startswith("redis") or "redis" not in settings.CACHES["default"]["BACKEND"].lower():
            raise CommandError("bench_signup needs Redis as broker and cache: set CELERY_BROKER_URL and CACHE_URL=redis://…")
        name = f"{db['NAME']}_signup_{os.getpid()}"
        original = db["NAME"]
        self._admin_sql(f'CREATE DATABASE "{name}"')
        processes: list[subprocess.Popen] = []
        try:
            self._use(name)
            call_command("migrate", verbosity=0)
            self._populate()
            outbox = tempfile.mkdtemp(prefix="bench-signup-")
            port = _free_port()
            self.web = f"{web_workers} workers × {threads} thread(s), {worker_concurrency} confirmation worker process(es)"
            env = self._environment(name, port, mail_to or f"file://{outbox}")
            web = self._start_gunicorn(env, port, web_workers, threads)
            processes.append(web)
            worker = self._start_worker(env, worker_concurrency)
            processes.append(worker)
            self._wait_ready(port)
            self.watch = {"gunicorn": web.pid, "confirmation worker": worker.pid}
            self.stdout.write(self._run(port, worker, signups, requests, concurrency))
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            self._use(original)
            if not keep:
                self._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, port: int, worker: subprocess.Popen, signups: int, requests: int, levels: list[int]) -> str:
        from digests.bench.signup import WebClient, cpu_seconds, phase_run, ratio_line
        from digests.models import Subscriber, TransactionalEmail

        client = WebClient("127.0.0.1", port)
        run = f"{os.getpid()}"
        lines = [f"gunicorn on 127.0.0.1:{port} ({self.web}), database {settings.DATABASES['default']['NAME']}"]
        offset = 0
        signups_ok = 0
        worker_cpu_start = cpu_seconds(worker.pid)
        signup_seconds = 0.0
        for level in levels:
            floor = phase_run("floor: GET /healthz", level, requests, lambda n: client.get_ok("/healthz", n), watch=self.watch)
            page = phase_run(
                "page view: GET /subscribe/", level, requests, lambda n: client.get_ok("/subscribe/", n), watch=self.watch
            )
            # Next to the page view, before the signups: the confirmations they leave the worker to send
            # would otherwise share the cores with this phase and not with the page view's.
            metrics = phase_run("GET /metrics", level, requests, lambda n: client.get_ok("/metrics", n), watch=self.watch)
            signup = phase_run(
                "signup: GET + POST /subscribe/",
                level,
                signups,
                lambda n, offset=offset: client.signup(offset + n, run=run),
                watch=self.watch,
            )
            signup_seconds += signup.seconds
            offset += signups
            signups_ok += signup.done
            lines += [str(floor), str(page), str(metrics), str(signup)]
            lines += [ratio_line(phase, floor) for phase in (page, signup, metrics)]
            lines.append(f"/metrics per page view at concurrency {level}: {metrics.rate / page.rate:.2f}")
        drain_started = time.monotonic()
        owed = TransactionalEmail.objects.filter(status=TransactionalEmail.Status.OWED)
        while owed.exists() and time.monotonic() - drain_started < 300:
            time.sleep(0.5)
        drained = time.monotonic() - drain_started
        pending = Subscriber.objects.filter(status=Subscriber.Status.PENDING, email__endswith="@bench-signup.example.org")
        sent = TransactionalEmail.objects.filter(status=TransactionalEmail.Status.SENT).count()
        lines.append(
            f"signups answered: {signups_ok}; pending readers created: {pending.count()}; confirmations sent: {sent} "
            f"({owed.count()} still owed {drained:.1f}s after the last signup)"
        )
        worker_cpu = cpu_seconds(worker.pid) - worker_cpu_start
        lines.append(
            f"confirmation worker CPU, the whole run until the outbox drained: {worker_cpu:.1f}s, "
            f"{worker_cpu * 1000 / max(sent, 1):.1f} ms per confirmation sent "
            f"(signup phases lasted {signup_seconds:.1f}s in all)"
        )
        return "\n".join(lines)

    def _populate(self) -> None:
        from digests.content.digest_format import digest_parse
        from digests.content.services import digest_import

        digest_import(digest_parse(SEED.read_bytes()))

    def _environment(self, name: str, port: int, mail_to: str) -> dict:
        db = settings.DATABASES["default"]
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        url = (
            f"postgres://{db.get('USER') or 'postgres'}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"
        )
        return {
            **os.environ,
            "DATABASE_URL": url,
            "DEBUG": "0",
            "SECRET_KEY": settings.SECRET_KEY,
            "SITE_URL": f"http://127.0.0.1:{port}",
            # As behind the production proxy: the client address comes from X-Forwarded-For.
            "CLIENT_IP_HEADER": "X-Forwarded-For",
            "EMAIL_URL": mail_to,
            "LOG_LEVEL": "WARNING",
        }

    def _start_gunicorn(self, env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "newsletter.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                f"--workers={workers}",
                f"--threads={threads}",
                "--timeout=30",
                "--log-level=warning",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            start_new_session=True,
        )

    def _start_worker(self, env: dict, concurrency: int) -> subprocess.Popen:
        from digests.bench.workers import celery_worker

        return celery_worker(
            env, queue="transactional", concurrency=concurrency, name=f"benchsignup{os.getpid()}", stdout=subprocess.DEVNULL
        )

    def _wait_ready(self, port: int) -> None:
        import http.client

        for _ in range(120):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise CommandError("gunicorn did not answer /healthz with 200 within a minute")

    def _admin_sql(self, sql: str) -> None:
        with connection._nodb_cursor() as cursor:
            cursor.execute(sql)

    def _use(self, name: str) -> None:
        connections.close_all()
        settings.DATABASES["default"]["NAME"] = name
        connections["default"].settings_dict["NAME"] = name
