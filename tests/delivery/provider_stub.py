"""A local HTTP stand-in for a provider's send API, driven by a script of faults."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ProviderStub:
    """Answers each request with the next scripted reply: an (status, json) pair, "timeout" or "reset".

    When the script runs out, ``default(request)`` answers. Every request is kept.
    """

    def __init__(self, default):
        self.script: list = []
        self.default = default
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                request = {"path": self.path, "headers": dict(self.headers), "body": body, "fields": _fields(self.headers, body)}
                with stub.lock:
                    stub.requests.append(request)
                    step = stub.script.pop(0) if stub.script else None
                if step == "timeout":
                    time.sleep(1.5)
                    return
                if step == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                status, payload = step if step else stub.default(request)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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
        from urllib.parse import parse_qs

        return parse_qs(body.decode("ascii"), keep_blank_values=True)
    return {}
