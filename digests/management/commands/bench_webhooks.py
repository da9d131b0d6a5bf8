import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from digests.bench.webhooks import bench_cleanup, bench_fixture, bench_payloads, postmark_path, webhooks_fire
from digests.models import DeliveryEvent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Command(BaseCommand):
    help = (
        "Fire N Postmark tracking webhooks (one event per request, real HTTP) and report events per second. "
        "Creates throw-away readers at bench.invalid in the configured database and removes them afterwards; "
        "run it against a scratch or staging database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=10_000)
        parser.add_argument("--threads", type=int, default=4, help="Concurrent HTTP clients (default 4).")
        parser.add_argument("--readers", type=int, default=1000, help="Deliveries the events are spread over.")
        parser.add_argument("--url", default="", help="Base URL of a running server. Default: start gunicorn on a free port.")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes when the command starts one.")
        parser.add_argument("--keep", action="store_true", help="Keep the benchmark rows for inspection.")

    def handle(self, *args, events: int, threads: int, readers: int, url: str, keep: bool, workers: int, **options):
        self.workers = workers
        if events < 1 or threads < 1 or readers < 1:
            raise CommandError("--events, --threads and --readers must be at least 1.")
        secret = settings.ANYMAIL.get("WEBHOOK_SECRET") or None
        if isinstance(secret, list):
            secret = secret[0]
        try:
            digest = bench_fixture(readers=readers)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        server = None
        try:
            if not url:
                server, url = self._start_server()
            deliveries = list(digest.deliveries.select_related("subscriber").order_by("pk"))
            bodies = bench_payloads(deliveries, events)
            self.stdout.write(f"Firing {events} webhook requests at {url}{postmark_path()} with {threads} clients…")
            result = webhooks_fire(url.rstrip("/") + postmark_path(), bodies, threads=threads, basic_auth=secret)
            stored = DeliveryEvent.objects.filter(delivery__digest=digest).count()
        finally:
            if server:
                server.terminate()
                server.wait(timeout=10)
            if not keep:
                bench_cleanup()
        self.stdout.write(
            f"{result.requests} requests in {result.seconds:.1f} s: {result.per_second:.0f} events/s; "
            f"errors: {result.errors}; stored rows: {stored}; statuses: {dict(result.statuses)}"
        )
        for failure in result.failures:
            self.stdout.write(f"  {failure}")
        if result.errors:
            raise CommandError(f"{result.errors} of {result.requests} webhook requests failed.")

    def _start_server(self) -> tuple[subprocess.Popen, str]:
        port = _free_port()
        # gunicorn, as in production: runserver's thread per connection measures runserver, not us.
        gunicorn = Path(sys.executable).with_name("gunicorn")
        server = subprocess.Popen(
            [
                str(gunicorn),
                "newsletter.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                str(self.workers),
                "-k",
                "gthread",
                "--threads",
                "4",
            ],
            cwd=settings.BASE_DIR,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "WEBHOOK_PROVIDERS": "postmark"},  # the payloads are Postmark's
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + postmark_path(), timeout=1)
            except urllib.error.HTTPError:
                return server, url  # 405 for GET: the server is up
            except OSError:
                time.sleep(0.2)
            else:
                return server, url
        server.terminate()
        raise CommandError("gunicorn did not start within 30 seconds.")
