"""A raw-socket SMTP server in a thread, for tests that must see what a client puts on the wire and when.

It offers PIPELINING and 8BITMIME, reads commands in the order they arrive (pipelined or not),
answers as the test says (``rcpt_replies``, ``data_replies``), and can withhold its reply to a
message's data until the next MAIL FROM has arrived on the same connection (``hold_until_next_mail``):
a client that sends the next envelope only after that reply never gets it, and after ``hold_seconds``
the recipient is listed in ``misses`` and the reply goes anyway. Each session keeps what it received
(``Session``), including how it ended: QUIT, or the client closing the socket (and whether that was
in the middle of a message's data).
"""

from __future__ import annotations

import select
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

TIMEOUT = object()


@dataclass
class Session:
    commands: list[str] = field(default_factory=list)  # every command line, in order (message text excluded)
    data_lines: list[list[bytes]] = field(default_factory=list)  # each DATA's lines as received, dot-stuffed
    ended: str = ""  # "quit", "closed" (the client closed between commands), "closed in data", "server"
    after_354_unused: bool = False  # the client closed while a transaction waited for its data


class _Lines:
    def __init__(self, sock: socket.socket):
        self.sock, self.buffer = sock, bytearray()

    def readline(self, timeout: float | None = None):
        """The next line without its CRLF; None at the end of the stream; TIMEOUT after ``timeout`` seconds."""
        while b"\r\n" not in self.buffer:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return TIMEOUT
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                return None
            self.buffer += chunk
        line, _, rest = bytes(self.buffer).partition(b"\r\n")
        self.buffer = bytearray(rest)
        return line


class StubSMTP:
    def __init__(
        self,
        *,
        rcpt_replies: dict[str, str] | None = None,
        data_replies: dict[str, str] | None = None,
        hold_until_next_mail: set[str] = frozenset(),
        hold_seconds: float = 10.0,
        before_data_reply: Callable[[str], None] | None = None,
        data_despite_refusal: bool = False,
    ):
        self.rcpt_replies = rcpt_replies or {}
        self.data_replies = data_replies or {}
        self.hold_until_next_mail = set(hold_until_next_mail)
        self.hold_seconds = hold_seconds
        self.before_data_reply = before_data_reply
        self.data_despite_refusal = data_despite_refusal  # a broken server: 354 though every recipient was refused
        self.delivered: list[tuple[str, bytes]] = []  # (recipient, message) for each data answered 250
        self.misses: list[str] = []  # recipients whose data reply waited for a next MAIL FROM that never came
        self.sessions: list[Session] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closing = False
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True, name="stub-smtp")
        self.acceptor.start()

    def url(self, timeout: float = 30) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout={timeout}"

    def by_recipient(self) -> Counter:
        with self.lock:
            return Counter(rcpt for rcpt, _ in self.delivered)

    def close(self) -> None:
        self.closing = True
        self.listener.close()
        for thread in self.threads:
            thread.join(5)

    def _accept(self) -> None:
        while not self.closing:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            session = Session()
            with self.lock:
                self.sessions.append(session)
            thread = threading.Thread(target=self._serve, args=(sock, session), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, session: Session) -> None:
        try:
            self._session(sock, session)
        except OSError:  # the client went away while the server wrote
            session.ended = session.ended or "closed"
        finally:
            sock.close()

    def _session(self, sock: socket.socket, session: Session) -> None:
        lines = _Lines(sock)
        sock.sendall(b"220 stub ESMTP\r\n")
        recipients: list[str] = []
        mail = False
        pending = None  # a line read ahead while a data reply was held
        while True:
            line, pending = (pending, None) if pending is not None else (lines.readline(), None)
            if line is None:
                session.ended = session.ended or "closed"
                return
            command = line.decode("ascii", "replace")
            session.commands.append(command)
            verb = command[:4].upper()
            if verb == "EHLO":
                sock.sendall(b"250-stub\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == "HELO":
                sock.sendall(b"250 stub\r\n")
            elif verb == "MAIL":
                mail, recipients = True, []
                sock.sendall(b"250 2.1.0 Ok\r\n")
            elif verb == "RCPT":
                address = command.partition("<")[2].partition(">")[0]
                reply = self.rcpt_replies.get(address, "250 2.1.5 Ok")
                if reply.startswith("25"):
                    recipients.append(address)
                sock.sendall(reply.encode() + b"\r\n")
            elif verb == "DATA":
                if not mail:
                    sock.sendall(b"503 5.5.1 Error: need MAIL command\r\n")
                    continue
                if not recipients and not self.data_despite_refusal:
                    sock.sendall(b"554 5.5.1 Error: no valid recipients\r\n")
                    mail = False
                    continue
                sock.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                received: list[bytes] = []
                session.data_lines.append(received)
                while True:
                    text = lines.readline()
                    if text is None:
                        session.ended, session.after_354_unused = "closed in data", not received
                        return
                    if text == b".":
                        break
                    received.append(text)
                message = b"".join((text[1:] if text.startswith(b".") else text) + b"\r\n" for text in received)
                if not recipients:
                    continue  # what a broken server accepted for nobody is dropped
                [recipient] = recipients
                if recipient in self.hold_until_next_mail:
                    pending = lines.readline(self.hold_seconds)
                    if pending is TIMEOUT or pending is None or not pending.upper().startswith(b"MAIL FROM:"):
                        with self.lock:
                            self.misses.append(recipient)
                        pending = None if pending is TIMEOUT else pending
                if self.before_data_reply:
                    self.before_data_reply(recipient)
                reply = self.data_replies.get(recipient, "250 2.0.0 Ok: queued")
                if reply.startswith("250"):
                    with self.lock:
                        self.delivered.append((recipient, message))
                sock.sendall(reply.encode() + b"\r\n")
                mail, recipients = False, []
                if reply.startswith("421"):
                    # Hang up as a server does, without resetting what the client sent meanwhile (an RST
                    # could overtake the 421): stop writing, read to the client's end of the stream.
                    session.ended = "server"
                    sock.shutdown(socket.SHUT_WR)
                    while lines.readline(10) not in (None, TIMEOUT):
                        pass
                    return
            elif verb == "RSET":
                mail, recipients = False, []
                sock.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == "NOOP":
                sock.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                session.ended = "quit"
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")
