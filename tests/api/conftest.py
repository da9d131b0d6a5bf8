"""Fixtures for the API tests: keys, a live server spoken to over real HTTP, a webhook receiver."""

from __future__ import annotations

import pytest
import requests

# The real SMTP server and Celery worker of the delivery tests, for the end-to-end publication.
from tests.delivery.conftest import https_site, smtp_server, worker, worker_env  # noqa: F401
from tests.helpers.receiver import WebhookReceiver


@pytest.fixture
def make_key(db):
    """``make_key("digests:read", ...)`` → the full secret of a new key with those scopes."""
    from digests.apikeys import api_key_create

    def make(*scopes: str, name: str = "pipeline") -> str:
        return api_key_create(name=name, scopes=scopes)[1]

    return make


class Api:
    """Real HTTP to the live server: ``api.get("digests/")`` with the key as a Bearer token."""

    def __init__(self, base: str, key: str | None):
        self.base, self.key = base, key

    def request(self, method: str, path: str, *, key: str | None = "default", headers=None, **kwargs) -> requests.Response:
        # No keep-alive: a server thread held open by it would keep its database connection past the test.
        headers = {"Connection": "close", **(headers or {})}
        key = self.key if key == "default" else key
        if key:
            headers["Authorization"] = f"Bearer {key}"
        url = path if path.startswith("http") else f"{self.base}/api/v1/{path}"
        return requests.request(method, url, headers=headers, timeout=60, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(live_server, make_key):
    """A client with every scope; ``api.key = None`` or another key to try refusals."""
    from digests.models.automation import SCOPES

    return Api(live_server.url, make_key(*SCOPES))


@pytest.fixture
def receiver(db):
    """A local webhook receiver registered as an endpoint for every event."""
    from digests.models import WebhookEndpoint
    from digests.webhooks.delivery import webhook_secret_new

    secret = webhook_secret_new()
    server = WebhookReceiver(secret).start()
    server.endpoint = WebhookEndpoint.objects.create(url=server.url, secret=secret)
    yield server
    server.stop()
