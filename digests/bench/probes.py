"""What an operator sees while a big send runs: the sending page and ``send_status`` latency, worker memory.

Each probe is timed next to its floor, taken at the same moment on the same
machine: the admin's sending page and its progress JSON against a trivial
admin page (the app index, same login, session and middleware), and
``send_status`` against a ``SELECT 1`` round trip. Worker memory is sampled
from /proc (VmRSS of the worker and of each pool process) to show whether it
stays flat as the ledger fills.
"""

from __future__ import annotations

import io
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from digests.delivery.ledger import deliveries_counts


def _ms(func) -> float:
    started = time.perf_counter()
    func()
    return (time.perf_counter() - started) * 1000


@dataclass
class Probes:
    """Latency samples (ms) of each probe, each with the ledger size it was taken at."""

    digest_id: int
    client: Client = field(init=False)
    samples: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self):
        from django.contrib.auth import get_user_model

        user_model = get_user_model()
        user = user_model.objects.filter(username="bench-operator").first() or user_model.objects.create_superuser(
            "bench-operator", "bench-operator@example.org", None
        )
        host = next((h for h in settings.ALLOWED_HOSTS if h not in ("*", "") and not h.startswith(".")), "localhost")
        self.client = Client(HTTP_HOST=host)
        self.client.force_login(user)
        self.pages = {
            "sending page": reverse("admin:digests_digest_sending", args=[self.digest_id]),
            "progress.json": reverse("admin:digests_digest_progress", args=[self.digest_id]),
            "floor: admin app index": reverse("admin:app_list", kwargs={"app_label": "digests"}),
        }
        # Untimed: this process's first request of each page loads templates and builds the admin once,
        # which a running web server did long before; the timed probes measure what the ledger costs.
        for url in self.pages.values():
            self.client.get(url, secure=True)

    def take(self) -> None:
        rows = sum(deliveries_counts(self.digest_id).values())
        for name, url in self.pages.items():
            started = time.perf_counter()
            status = self.client.get(url, secure=True).status_code
            ms = (time.perf_counter() - started) * 1000
            if status != 200:
                self.errors.append(f"{name}: HTTP {status}")
            self.samples.setdefault(name, []).append((rows, ms))
        self.samples.setdefault("send_status", []).append(
            (rows, _ms(lambda: call_command("send_status", str(self.digest_id), stdout=io.StringIO())))
        )

        def select_one():
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()

        self.samples.setdefault("floor: SELECT 1", []).append((rows, _ms(select_one)))

    def latest(self) -> str:
        """The last sample of each probe, on one line (for progress output during a long run)."""
        return ", ".join(f"{name} {values[-1][1]:.0f} ms" for name, values in self.samples.items())

    def __str__(self) -> str:
        lines = ["operator probes during the send (ms: median / max, ledger rows when the slowest was taken):"]
        for name, values in self.samples.items():
            slowest = max(values, key=lambda pair: pair[1])
            median = statistics.median(ms for _, ms in values)
            lines.append(f"  {name}: {median:.0f} / {slowest[1]:.0f} ({slowest[0]:,} rows), {len(values)} samples")
        pairs = (("sending page", "floor: admin app index"), ("send_status", "floor: SELECT 1"))
        for probe, floor in pairs:
            if probe in self.samples and floor in self.samples:
                ratio = statistics.median(ms for _, ms in self.samples[floor]) / statistics.median(
                    ms for _, ms in self.samples[probe]
                )
                lines.append(f"  ratio of {floor} to {probe} (medians): {ratio:.2f}")
        lines.extend(f"  error: {error}" for error in self.errors[:5])
        return "\n".join(lines)


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children (a worker and its pool processes), from /proc."""
    try:
        return [pid, *(int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    except OSError:
        return [pid]


def _status_kb(pid: int, field: str) -> int | None:
    """A memory line of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``) in kB; None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def process_rss_kb(pid: int) -> list[int]:
    """VmRSS (kB) of ``pid`` and of each of its children."""
    return [kb for kb in (_status_kb(one, "VmRSS") for one in process_tree(pid)) if kb is not None]


def process_peak_kb(pid: int) -> int:
    """The largest VmHWM (peak resident memory, kB) among ``pid`` and its children."""
    return max((kb for kb in (_status_kb(one, "VmHWM") for one in process_tree(pid)) if kb is not None), default=0)


@dataclass
class RssSeries:
    """The largest worker process's VmRSS over the run, against the share of the ledger already settled."""

    samples: list[tuple[float, int]] = field(default_factory=list)  # (fraction done, kB)

    def add(self, done: float, sizes: list[int]) -> None:
        if sizes:
            self.samples.append((done, max(sizes)))

    def __str__(self) -> str:
        if not self.samples:
            return "worker RSS: no samples"
        marks = []
        for quarter in (0.1, 0.25, 0.5, 0.75, 1.0):
            at = [kb for done, kb in self.samples if done <= quarter]
            if at:
                marks.append(f"{quarter:.0%} sent: {max(at) / 1024:.0f} MB")
        peak = max(kb for _, kb in self.samples)
        return (
            f"largest worker process VmRSS, sampled every second ({len(self.samples)} samples): "
            + ", ".join(marks)
            + f"; peak {peak / 1024:.0f} MB"
        )


def proc_stat(pid: int | str) -> tuple[str, list[str], int]:
    """``/proc/<pid>/stat``: the command name, the fields after it (ppid at [1], session at [3]) and
    the CPU clock ticks used so far (utime + stime). Raises OSError when the process is not readable."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
    return name, fields, int(fields[11]) + int(fields[12])


def _process_cpu(worker_sessions: dict[int, str], named: dict[int, str] | None = None) -> dict[int, tuple[str, int]]:
    """Each process's (group, CPU clock ticks so far), from /proc: the processes ``named``, each worker's
    whole session (under its name in ``worker_sessions``), this process, its own children (the floor's
    processes), else the command name (postgres, redis-server, the sink, …)."""
    me, found = os.getpid(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, fields, ticks = proc_stat(entry.name)
        except OSError:
            continue
        pid, ppid, session = int(entry.name), int(fields[1]), int(fields[3])
        if named and pid in named:
            group = named[pid]
        elif session in worker_sessions:
            group = worker_sessions[session]
        elif pid == me:
            group = "bench_send itself"
        elif ppid == me:
            group = "floor processes"
        else:
            group = name
        found[pid] = (group, ticks)
    return found


@dataclass
class CpuShare:
    """The machine's CPU over one phase by who used it, in microseconds per message: what a rate
    bound by the CPU is made of, next to the floor's, so the ratio between them can be read off.

    Sampled from /proc at the start, at each ``sample()`` (so a process that ends meanwhile, such as
    a database backend whose connection closed, still counts up to its last sample) and at ``stop()``;
    this process's own children that ended (the floor's) are counted from their resource usage."""

    label: str
    worker_sessions: dict[int, str] = field(default_factory=dict)  # a worker's session id: its group's name
    named: dict[int, str] = field(default_factory=dict)  # processes counted under a name of their own
    started: dict = field(default_factory=dict)
    last: dict = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)  # CPU seconds by group
    seconds: float = 0.0
    messages: int = 0

    def start(self) -> CpuShare:
        if Path("/proc/self/stat").exists():
            self.started = self.last = _process_cpu(self.worker_sessions, self.named)
            self._children, self._at = _children_cpu(), time.monotonic()
        return self

    def sample(self) -> None:
        if self.started:
            self.last = {**self.last, **_process_cpu(self.worker_sessions, self.named)}

    def stop(self) -> CpuShare:
        """The end of the phase; set ``messages`` (how many it sent) before printing."""
        if not self.started:
            return self
        self.sample()
        ticks, self.seconds = os.sysconf("SC_CLK_TCK"), time.monotonic() - self._at
        for pid, (group, now) in self.last.items():
            before = self.started.get(pid, (group, 0))[1]
            if now > before:
                self.used[group] = self.used.get(group, 0.0) + (now - before) / ticks
        ended = _children_cpu() - self._children
        if ended > 0:
            self.used["floor processes"] = self.used.get("floor processes", 0.0) + ended
        return self

    @property
    def per_message(self) -> float:
        """CPU seconds, all processes together, behind one message (0 when nothing was measured)."""
        return sum(self.used.values()) / self.messages if self.messages else 0.0

    def __str__(self) -> str:
        if not self.used or not self.messages:
            return ""
        total = sum(self.used.values())
        top = sorted(self.used.items(), key=lambda pair: -pair[1])
        shown = [(group, cpu) for group, cpu in top if cpu / total >= 0.02]
        rest = total - sum(cpu for _, cpu in shown)
        parts = [f"{group} {cpu * 1e6 / self.messages:.0f}" for group, cpu in shown]
        if rest > 0:
            parts.append(f"other {rest * 1e6 / self.messages:.0f}")
        return (
            f"CPU per message, {self.label} (us): {', '.join(parts)}; "
            f"total {self.per_message * 1e6:.0f} us ({total / self.seconds:.2f} of {os.cpu_count()} cores busy)"
        )

    def ceiling(self, floor_per_second: float, target: float) -> str:
        """What the CPU behind each message allows: the rate with every core busy, as a share of the
        floor, and the CPU a message may take in all for the send to reach ``target`` of it. A send
        below target with idle cores waits (round trips, locks); one whose ceiling is below target
        needs less CPU a message, whatever it overlaps."""
        if not self.per_message or floor_per_second <= 0:
            return ""
        cores = os.cpu_count() or 1
        most = cores / self.per_message
        return (
            f"CPU ceiling of the {self.label}: {cores} cores fully busy at {self.per_message * 1e6:.0f} us a message "
            f"send {most:.0f} emails/s, {most / floor_per_second:.2f} of the floor; {target:.2f} of the floor "
            f"needs at most {cores / (target * floor_per_second) * 1e6:.0f} us a message in all"
        )


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
