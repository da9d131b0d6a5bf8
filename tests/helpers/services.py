"""Real services in tests: whether PostgreSQL and Redis are there, a free local port, waiting for something to happen."""

from __future__ import annotations

import socket
import time

import pytest
from django.conf import settings


def services_available() -> bool:
    return "postgresql" in settings.DATABASES["default"]["ENGINE"] and settings.CELERY_BROKER_URL.startswith("redis")


needs_services = pytest.mark.skipif(
    not services_available(), reason="needs PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL) for a real worker"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, interval: float = 0.2, tick=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        if predicate():
            return True
        time.sleep(interval)
    return False
