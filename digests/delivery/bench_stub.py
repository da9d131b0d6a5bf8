"""A local stand-in for Mailgun's messages API, fast enough to measure the provider-batch path.

``bench_send --to anymail://mailgun`` points the real anymail backend at it.
It reads each request, counts the recipients (the ``to`` form fields) and
answers like Mailgun does; it never parses more than that, so the benchmark
measures our sending and not the stub.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _recipients(content_type: str, body: bytes) -> int:
    """How many ``to`` fields a form body has (requests sends urlencoded without files, multipart with)."""
    if content_type.startswith("multipart/form-data"):
        return body.count(b'Content-Disposition: form-data; name="to"\r\n')
    return body.startswith(b"to=") + body.count(b"&to=")


class MailgunStub:
    """A threaded HTTP server on 127.0.0.1 and a free port; ``url`` is what ANYMAIL's MAILGUN_API_URL wants."""

    def __init__(self):
        self.requests = 0
        self.recipients = 0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: anymail reuses one session per batch

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recipients = _recipients(self.headers.get("Content-Type", ""), body)
                with stub.lock:
                    stub.requests += 1
                    stub.recipients += recipients
                    number = stub.requests
                if not self.path.endswith("/messages") or not recipients:
                    self._reply(400, {"message": "'to' parameter is missing"})
                    return
                self._reply(200, {"id": f"<bench.{number}@stub.invalid>", "message": "Queued. Thank you."})

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v3"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
