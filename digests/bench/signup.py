"""Load the web tier as readers and operators do: the signup path, a page view, /metrics, against /healthz.

``bench_signup`` starts gunicorn (as in docker-compose.yml: 3 sync workers,
DEBUG off) and a Celery worker on the transactional queue against a throwaway
PostgreSQL database, then drives each phase from a pool of client threads in
this process. A signup is the real thing: GET the form (CSRF cookie and token),
then POST it with a distinct address, from a distinct client address (the
X-Forwarded-For header, trusted through CLIENT_IP_HEADER as behind the
production proxy), so neither rate limit is what gets measured. Each phase is
timed next to its floor, /healthz hit by the same client on the same server.
"""

from __future__ import annotations

import http.client
import re
import secrets
import statistics
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
CATEGORY_INPUT = re.compile(rb'name="categories" value="(\d+)"')
CSRF_COOKIE = re.compile(r"csrftoken=([^;]+)")


@dataclass
class Phase:
    name: str
    concurrency: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds each server process tree used meanwhile

    @property
    def done(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def __str__(self) -> str:
        errors = ", ".join(f"{what}: {n}" for what, n in self.errors.most_common(3)) or "none"
        cpu = "".join(f", {who} CPU {seconds * 1000 / max(self.done, 1):.1f} ms per request" for who, seconds in self.cpu.items())
        return (
            f"{self.name} at concurrency {self.concurrency}: {self.done} in {self.seconds:.1f}s = {self.rate:.0f}/s, "
            f"p50 {self.percentile(0.5):.0f} ms, p95 {self.percentile(0.95):.0f} ms, errors {errors}{cpu}"
        )


class WebClient:
    """One keep-alive-capable HTTP connection per thread to the server under test."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        # Each run's clients somewhere else in 10.0.0.0/8: a run within the hour of another is not rate-limited.
        self.first_address = secrets.randbelow(1 << 24)
        self.local = threading.local()
        self.categories: list[str] | None = None

    def request(self, method: str, path: str, *, headers: dict | None = None, body: bytes | None = None):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            self.local.conn = None
            raise
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
        return response.status, response, data

    def get_ok(self, path: str, n: int) -> None:
        status, _, _ = self.request("GET", path, headers={"X-Forwarded-For": client_address(self.first_address + n)})
        if status != 200:
            raise BenchError(f"GET {path}: HTTP {status}")

    def signup(self, n: int, *, run: str) -> None:
        """GET the signup form, then POST it as reader ``n`` from client address ``n``."""
        forwarded = {"X-Forwarded-For": client_address(self.first_address + n)}
        status, response, page = self.request("GET", "/subscribe/", headers=forwarded)
        if status != 200:
            raise BenchError(f"GET /subscribe/: HTTP {status}")
        token = CSRF_INPUT.search(page)
        cookie = CSRF_COOKIE.search(response.getheader("Set-Cookie", "") or "")
        if not token or not cookie:
            raise BenchError("no CSRF token on the signup page")
        if self.categories is None:
            self.categories = [value.decode() for value in CATEGORY_INPUT.findall(page)]
        fields = [
            ("csrfmiddlewaretoken", token.group(1).decode()),
            ("email", f"reader{n}.{run}@bench-signup.example.org"),
            ("name", f"读者 {n}"),
            ("website", ""),
            *[("categories", pk) for pk in self.categories[: 1 + n % max(len(self.categories), 1)]],
        ]
        status, _, page = self.request(
            "POST",
            "/subscribe/",
            headers={
                **forwarded,
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={cookie.group(1)}",
            },
            body=urllib.parse.urlencode(fields).encode(),
        )
        if status != 200 or b'name="email"' in page:
            raise BenchError(f"POST /subscribe/: HTTP {status}{' (form shown again)' if status == 200 else ''}")


class BenchError(Exception):
    pass


def client_address(n: int) -> str:
    """A distinct documentation-range-free private address per client ``n``."""
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def phase_run(name: str, concurrency: int, count: int, work, *, watch: dict[str, int] | None = None) -> Phase:
    """Call ``work(n)`` for n in 0..count-1 from ``concurrency`` threads; time each call.

    ``watch`` names processes (and their children) whose CPU time the phase reports per request.
    """
    import os

    phase = Phase(name, concurrency)
    watch = {**(watch or {}), "client (this process)": os.getpid()}
    cpu_before = {who: cpu_seconds(pid) for who, pid in watch.items()}
    counter = iter(range(count))
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            started = time.perf_counter()
            try:
                work(n)
            except Exception as exc:  # every failure is counted, by kind, never fatal to the run
                with lock:
                    phase.errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                phase.latencies_ms.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(loop)
    phase.seconds = time.perf_counter() - started
    phase.cpu = {who: cpu_seconds(pid) - cpu_before[who] for who, pid in watch.items()}
    return phase


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live children (from /proc)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    total = 0
    for one in [str(pid), *children]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def ratio_line(phase: Phase, floor: Phase) -> str:
    return f"ratio of {phase.name} to its floor ({floor.name}) at concurrency {phase.concurrency}: {phase.rate / floor.rate:.2f}"


def median_ms(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
