"""The CPU of one Mailgun batch call before it reaches the wire: the message, anymail's payload
and the request body, for 1,000 readers of one variant (no network, no database after the set-up)."""

from __future__ import annotations

import gc
import timeit
import uuid
from dataclasses import dataclass

import requests
from django.conf import settings
from django.test import override_settings

from digests.delivery.messages import Recipient, message_id_for
from digests.delivery.transport import MERGE_SYNTAX, Outgoing, anymail_batch_message
from digests.links import reader_links_many
from digests.models import Digest
from digests.rendering.inline import variant_inlined

ANYMAIL = {
    "MAILGUN_API_KEY": "key-bench",
    "MAILGUN_SENDER_DOMAIN": "bench.example.org",
    "MAILGUN_API_URL": "http://127.0.0.1:9/v3",
}


@dataclass(frozen=True)
class PayloadTiming:
    backend: str
    readers: int
    seconds_per_call: float
    body_bytes: int

    def __str__(self) -> str:
        return (
            f"{self.backend}: {self.seconds_per_call * 1000:.1f} ms per call of {self.readers} readers "
            f"({self.seconds_per_call / self.readers * 1e6:.1f} µs per reader), body {self.body_bytes / 1024:.0f} KB"
        )


def batch_items(digest: Digest, *, readers: int, language: str = "zh-hans") -> list[Outgoing]:
    """``readers`` readers of the digest's full variant, with real signed links and Message-IDs."""
    rendered = variant_inlined(digest, None, language=language)
    keys = [uuid.UUID(int=number + 1) for number in range(readers)]
    return [
        Outgoing(
            delivery_id=number + 1,
            digest_id=digest.pk,
            fields=Recipient(to=f"reader{number}@example.org", message_id=message_id_for(digest.pk, key), links=links),
            rendered=rendered,
            variant_key=("", language),
        )
        for number, (key, links) in enumerate(zip(keys, reader_links_many(keys), strict=True))
    ]


def prepared_body(backend, items: list[Outgoing]) -> bytes:
    """What a batch call does before the network: the message, the payload and the encoded request."""
    message = anymail_batch_message(items, syntax=MERGE_SYNTAX["mailgun"])
    payload = backend.build_message_payload(message, backend.send_defaults)
    params = payload.get_request_params(backend.api_url)
    params.pop("timeout", None)
    body = requests.Request(**params).prepare().body
    return body if isinstance(body, bytes) else body.encode("ascii")


def payload_timed(backend_path: str, items: list[Outgoing], *, repeat: int = 5, number: int = 3) -> PayloadTiming:
    """The best of ``repeat`` rounds of ``number`` calls, per call."""
    from django.utils.module_loading import import_string

    with override_settings(ANYMAIL={**(settings.ANYMAIL or {}), **ANYMAIL}):
        backend = import_string(backend_path)()
        body = prepared_body(backend, items)
        # With the garbage collector on, as in the worker (timeit turns it off by default).
        timer = timeit.Timer(lambda: prepared_body(backend, items), setup=gc.enable)
        best = min(timer.repeat(repeat=repeat, number=number)) / number
    return PayloadTiming(backend=backend_path, readers=len(items), seconds_per_call=best, body_bytes=len(body))
