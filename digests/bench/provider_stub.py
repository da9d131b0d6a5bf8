"""Local HTTP stand-ins for a provider's send API, for the benchmarks and the tests.

The real anymail backend is pointed at one of these servers on 127.0.0.1:

* ``MailgunStub`` counts recipients and answers like Mailgun's messages API;
  it never parses more than that, so ``bench_send`` measures our sending and
  not the stub.
* ``ProviderStub`` keeps every request (parsed form or JSON fields) and
  answers from a script of replies and faults, for the tests of each provider.
"""

from __future__ import annotations

import abc
import json
import socket
import struct
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class _StubServer(abc.ABC):
    """A threaded HTTP server on a free loopback port whose POSTs go to ``self.handle(handler, body)``."""

    path_prefix = ""
    protocol_version = "HTTP/1.0"

    def __init__(self):
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = stub.protocol_version

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.handle(self, body)

            def reply(self, status: int, payload) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path_prefix}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @abc.abstractmethod
    def handle(self, handler, body: bytes) -> None:
        """Answer one POST through ``handler.reply`` (or drop the connection)."""

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _recipients(content_type: str, body: bytes) -> int:
    """How many ``to`` fields a form body has (requests sends urlencoded without files, multipart with)."""
    if content_type.startswith("multipart/form-data"):
        return body.count(b'Content-Disposition: form-data; name="to"\r\n')
    return body.startswith(b"to=") + body.count(b"&to=")


class MailgunStub(_StubServer):
    """Mailgun's messages API; ``url`` is what ANYMAIL's MAILGUN_API_URL wants."""

    path_prefix = "/v3"
    protocol_version = "HTTP/1.1"  # keep-alive: anymail reuses one session per batch

    SAMPLES = 16

    def __init__(self):
        self.requests = 0
        self.recipients = 0
        self.samples: list[tuple[str, dict, bytes, int]] = []  # the first calls, for the provider floor to replay
        super().__init__()

    def handle(self, handler, body: bytes) -> None:
        recipients = _recipients(handler.headers.get("Content-Type", ""), body)
        with self.lock:
            self.requests += 1
            self.recipients += recipients
            number = self.requests
            if len(self.samples) < self.SAMPLES and recipients:
                headers = {name: handler.headers[name] for name in ("Content-Type", "Authorization") if handler.headers[name]}
                self.samples.append((handler.path, headers, body, recipients))
        if not handler.path.endswith("/messages") or not recipients:
            handler.reply(400, {"message": "'to' parameter is missing"})
            return
        handler.reply(200, {"id": f"<bench.{number}@stub.invalid>", "message": "Queued. Thank you."})


class ProviderStub(_StubServer):
    """Answers each request with the next scripted reply: an (status, json) pair, "timeout" or "reset".

    When the script runs out, ``default(request)`` answers. Every request is kept.
    """

    def __init__(self, default):
        self.script: list = []
        self.default = default
        self.requests: list[dict] = []
        super().__init__()

    def handle(self, handler, body: bytes) -> None:
        request = {"path": handler.path, "headers": dict(handler.headers), "body": body, "fields": _fields(handler.headers, body)}
        with self.lock:
            self.requests.append(request)
            step = self.script.pop(0) if self.script else None
        if step == "timeout":
            time.sleep(1.5)
            handler.close_connection = True
            return
        if step == "reset":
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
            handler.close_connection = True
            return
        status, payload = step if step else self.default(request)
        handler.reply(status, payload)


def _fields(headers, body: bytes) -> dict:
    kind = headers.get("Content-Type", "")
    if kind.startswith("application/json"):
        return {"json": json.loads(body or b"null")}
    if kind.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + kind.encode() + b"\r\n\r\n" + body)
        fields: dict[str, list[str]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            fields.setdefault(name, []).append(payload.decode("utf-8", "replace"))
        return fields
    if kind.startswith("application/x-www-form-urlencoded"):
        return parse_qs(body.decode("ascii"), keep_blank_values=True)
    return {}
