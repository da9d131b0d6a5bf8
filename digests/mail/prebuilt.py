"""A transactional email serialised once, each reader's bytes filled into it.

``transactional_message_of`` hands Django an ``EmailMultiAlternatives`` whose
``message()`` builds and serialises the MIME tree for every reader: most of a
confirmation's CPU in the worker. A ``PrebuiltMessage`` is the same email built
and serialised once by the same code, with stand-ins for what differs per
reader, and cut into literal byte segments and slots (as
``digests.delivery.messages`` does for digests). A reader's message then sets
its headers (To, Date, Message-ID, and the Subject if it shows a reader's
value) through Django's own header sanitising and ``email``'s own folding, and
its bodies as the generator writes an 8bit body: the text's UTF-8 with every
line break made CRLF, ``7bit`` when it is ASCII. A boundary is drawn per message
as ``email`` draws one.

When a reader's text would not go out as that (a body line over 998 bytes, so
Django would quoted-print it; a value that cannot be UTF-8) the message is built
by Django as before, so the bytes on the wire are always what they were.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import random
import re
import sys
from email.utils import formatdate, make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, forbid_multi_line_headers

_TO = "prebuilt-to-slot@slot.invalid"
_DATE = "PREBUILTxDATExSLOT"
_MESSAGE_ID = "<PREBUILTxMESSAGExIDxSLOT@slot.invalid>"
_SUBJECT = "PREBUILTxSUBJECTxSLOT"
_TEXT = "PREBUILTxTEXTxBODYxSLOT"
_HTML = "PREBUILTxHTMLxBODYxSLOT"
_HEADER_SLOTS = {"To": _TO, "Date": _DATE, "Message-ID": _MESSAGE_ID, "Subject": _SUBJECT}
_PART_SLOTS = {"text": _TEXT, "html": _HTML}
# The policy Django's serialisation folds headers with (compat32, CRLF).
_POLICY = email.policy.compat32.clone(linesep="\r\n")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# email.generator's boundary: 15 '=', a random number as wide as sys.maxsize's, '=='.
_BOUNDARY_FORMAT = "=" * 15 + "%%0%dd" % len(repr(sys.maxsize - 1)) + "=="


class Unprebuildable(ValueError):
    """The message cannot be made by filling in the prebuilt bytes; Django builds it as before."""


class _RawMime(email.message.Message):
    """The ready bytes as ``message()``'s result; parsed only if something reads more than its bytes."""

    def __init__(self, raw: bytes):
        # Message.__init__ is left to the lazy parse (__getattr__).
        self.__dict__["_raw"] = raw

    def __getattr__(self, name):
        # Only reached for what Message.__init__ would have set: parse once, then behave as parsed.
        if name.startswith("__") or "_parsed" in self.__dict__:
            raise AttributeError(name)
        parsed = email.message_from_bytes(self.__dict__["_raw"])
        self.__dict__.update(parsed.__dict__)
        self.__dict__["_parsed"] = True
        return getattr(self, name)

    def as_bytes(self, unixfrom=False, policy=None, linesep="\n"):
        raw = self.__dict__["_raw"]
        return raw if linesep == "\r\n" else raw.replace(b"\r\n", linesep.encode())

    __bytes__ = as_bytes

    def as_string(self, unixfrom=False, maxheaderlen=0, policy=None, linesep="\n"):
        return self.as_bytes(linesep=linesep).decode("utf-8", "surrogateescape")

    __str__ = as_string


class FilledMessage(EmailMultiAlternatives):
    """An email whose attributes are what ``transactional_message_of`` would set and whose
    ``message()`` is the prebuilt bytes (so SMTP sends them; an API backend reads the attributes)."""

    def __init__(self, raw: bytes, **kwargs):
        super().__init__(**kwargs)
        self.raw = raw

    def message(self):
        return _RawMime(self.raw)


class PrebuiltMessage:
    """``transactional_message_of``'s email for readers whose subject, text and HTML differ only in
    ``fields`` (stand-in strings put where each reader's values go, in every part the same way)."""

    def __init__(self, *, subject: str, text: str, html: str, fields: dict[str, str]):
        self.subject, self.text, self.html = subject, text, html
        self.fields = fields
        self._stand_ins = re.compile("|".join(re.escape(s) for s in fields.values())) if fields else None
        self.per_reader_subject = any(stand_in in subject for stand_in in fields.values())
        self.from_email = settings.DEFAULT_FROM_EMAIL
        self.reply_to = [settings.REPLY_TO_EMAIL] if settings.REPLY_TO_EMAIL else None
        self.from_domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or None
        self.parts = self._cut()

    def _cut(self) -> tuple:
        from digests.mail import transactional_message_of

        message = transactional_message_of(
            subject=_SUBJECT if self.per_reader_subject else self.subject, text=_TEXT, html=_HTML, to=_TO
        )
        # Date where Django puts it (before the extra headers), the Message-ID a stand-in.
        headers = {"Date": _DATE, **message.extra_headers}
        headers["Message-ID"] = _MESSAGE_ID
        message.extra_headers = headers
        mime = message.message()
        raw = mime.as_bytes(linesep="\r\n")
        boundary = mime.get_boundary().encode("ascii")
        header_names = [n for n in _HEADER_SLOTS if n != "Subject" or self.per_reader_subject]
        pattern = b"|".join(
            [
                *(b"^" + n.encode() + b": " + re.escape(_HEADER_SLOTS[n].encode()) + b"\r\n" for n in header_names),
                *(b"Content-Transfer-Encoding: 7bit\r\n\r\n" + re.escape(s.encode()) for s in _PART_SLOTS.values()),
                re.escape(boundary),
            ]
        )
        parts: list = []
        seen: list = []
        position = 0
        for match in re.finditer(pattern, raw, re.MULTILINE):
            found = match.group()
            if found == boundary:
                slot = ("boundary",)
            elif found.startswith(b"Content-Transfer-Encoding"):
                slot = ("part", "text" if found.endswith(_TEXT.encode()) else "html")
            else:
                slot = ("header", found.split(b":", 1)[0].decode())
            parts += [raw[position : match.start()], slot]
            seen.append(slot)
            position = match.end()
        parts.append(raw[position:])
        expected = {("header", n) for n in header_names} | {("part", "text"), ("part", "html")}
        if sorted(s for s in seen if s[0] != "boundary") != sorted(expected) or seen.count(("boundary",)) != 4:
            raise Unprebuildable("Django's serialisation is not the shape this module fills in")
        return tuple(parts)

    def _filled(self, template: str, values: dict[str, str]) -> str:
        if self._stand_ins is None:
            return template
        by_stand_in = {self.fields[f]: v for f, v in values.items()}
        # One pass, so a value that happens to contain a stand-in is shown as typed, not filled in.
        return self._stand_ins.sub(lambda m: by_stand_in[m.group()], template)

    def message(self, *, to: str, text_values: dict[str, str], html_values: dict[str, str]) -> EmailMultiAlternatives:
        """The email for one reader: ``text_values`` fill the subject and the text, ``html_values`` the HTML."""
        subject = " ".join(self._filled(self.subject, text_values).split()) if self.per_reader_subject else self.subject
        text = self._filled(self.text, text_values)
        html = self._filled(self.html, html_values)
        message_id = make_msgid(domain=self.from_domain)
        kwargs = {
            "subject": subject,
            "body": text,
            "from_email": self.from_email,
            "to": [to],
            "reply_to": self.reply_to,
            "headers": {"Auto-Submitted": "auto-generated", "Message-ID": message_id},
        }
        try:
            raw = self._bytes(subject=subject, text=text, html=html, to=to, message_id=message_id)
        except (Unprebuildable, ValueError, UnicodeError):
            raw = None
        if raw is None:
            # Built by Django as before (or failing as it did before).
            message = EmailMultiAlternatives(**kwargs)
        else:
            message = FilledMessage(raw, **kwargs)
        message.attach_alternative(html, "text/html")
        return message

    def _bytes(self, *, subject: str, text: str, html: str, to: str, message_id: str) -> bytes | None:
        bodies = {"text": _body(text), "html": _body(html)}
        if None in bodies.values():
            return None
        headers = {"To": to, "Date": formatdate(localtime=settings.EMAIL_USE_LOCALTIME), "Message-ID": message_id}
        if self.per_reader_subject:
            headers["Subject"] = subject
        boundary = _boundary(bodies.values())
        out = []
        for part in self.parts:
            if isinstance(part, bytes):
                out.append(part)
            elif part[0] == "boundary":
                out.append(boundary)
            elif part[0] == "part":
                out.append(bodies[part[1]])
            else:
                name = part[1]
                out.append(_POLICY.fold_binary(name, forbid_multi_line_headers(name, headers[name], "utf-8")[1]))
        return b"".join(out)


def _body(text: str) -> bytes | None:
    """A part's CTE header and body as Django and ``email`` write it (8bit or 7bit UTF-8), or None
    when they would quoted-print it (a line over 998 bytes)."""
    if any(len(line.encode(errors="surrogateescape")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in text.splitlines()):
        return None
    body = _LINE_BREAK.sub("\r\n", text).encode("utf-8")
    return b"Content-Transfer-Encoding: " + (b"7bit" if body.isascii() else b"8bit") + b"\r\n\r\n" + body


def _boundary(bodies) -> bytes:
    while True:
        boundary = (_BOUNDARY_FORMAT % random.randrange(sys.maxsize)).encode("ascii")
        if not any(boundary in body for body in bodies):
            return boundary
