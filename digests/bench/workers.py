"""A real `celery worker` command, started the way an operator starts one (benchmarks and tests)."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings


def celery_worker(
    env: dict, *, queue: str, concurrency: int, name: str, loglevel: str = "WARNING", stdout=None, stderr=None
) -> subprocess.Popen:
    """``celery worker`` on ``queue`` (comma-separated) with ``concurrency`` prefork processes, named
    ``name@<host>``, in a session of its own (so its whole process tree can be counted apart, or killed)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "newsletter",
        "worker",
        "-Q",
        queue,
        "--pool",
        "prefork",
        "-c",
        str(concurrency),
        "--loglevel",
        loglevel,
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    return subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env=env,
        start_new_session=True,
        stdout=stdout,
        stderr=stderr,
    )
