"""A real `celery worker` command for a benchmark, started the way an operator starts one."""

from __future__ import annotations

import subprocess
import sys

from django.conf import settings


def celery_worker(env: dict, *, queue: str, concurrency: int, name: str, quiet: bool = False) -> subprocess.Popen:
    """``celery worker`` on ``queue`` with ``concurrency`` prefork processes, named ``name@<host>``, in a
    session of its own (so its whole process tree's CPU can be counted apart)."""
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
        "WARNING",
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
        stdout=subprocess.DEVNULL if quiet else None,
    )
