"""A real local HTTP server that receives outgoing webhooks and checks their Standard Webhooks signatures."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class WebhookReceiver:
    """Collects every request; ``events`` are the ones whose signature verified, ``rejected`` the others."""

    def __init__(self, secret: str, *, answer: int = 204):
        self.secret = secret
        self.answer = answer
        self.events: list[dict] = []
        self.headers: list[dict] = []
        self.rejected: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError as exc:
                    with receiver.lock:
                        receiver.rejected.append(str(exc))
                    self.send_response(400)
                else:
                    with receiver.lock:
                        receiver.events.append(payload)
                        receiver.headers.append(headers)
                    self.send_response(receiver.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def types(self) -> list[str]:
        with self.lock:
            return [event["type"] for event in self.events]

    def of_type(self, event_type: str) -> list[dict]:
        with self.lock:
            return [event for event in self.events if event["type"] == event_type]


def json_body(data) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")
