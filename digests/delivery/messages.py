"""Each variant's MIME message is built once; each reader's bytes are a fill-in of ASCII slots.

Django's email classes build the message (about 2 ms); doing that per reader
caps a worker near a few hundred emails a second. Instead a variant is built
once with slot markers where the reader's address, Message-ID and links go,
serialised once, and cut into literal byte segments and slots. A reader's
message is then a join of bytes.

Both body parts go out as 8bit UTF-8 when EMAIL_BODY_ENCODING allows it and
every line, with room for the reader's links, fits in 998 bytes: Chinese text
then costs a third of its quoted-printable size. Each variant also carries a
quoted-printable copy for a server that does not announce 8BITMIME. In that
copy our own encoder puts every slot on a line of its own between soft line
breaks, and a reader's value is filled in as quoted-printable wrapped at 76
characters, so the decoded text is exactly the value and the message is pure
ASCII on the wire whatever the language of the digest.
"""

from __future__ import annotations

import functools
import hashlib
import html
import operator
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formatdate, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from digests.links import PLACEHOLDER_LINKS, ReaderLinks
from digests.rendering.lines import body_fits_8bit

# The ReaderLinks fields that go into a message body or header.
LINK_FIELDS = ("unsubscribe_url", "preferences_url", "reader_ref")

# Contexts a slot can sit in: a header (raw ASCII), the text part, the HTML part
# (quoted-printable), the text part and the HTML part (8bit).
HEADER, TEXT, HTML, TEXT8, HTML8 = "H", "T", "M", "t", "m"

TO_SLOT = "reader-address-slot@slot.invalid"
MESSAGE_ID_SLOT = "<MESSAGExIDxSLOT@slot.invalid>"
UNSUBSCRIBE_HEADER_SLOT = "https://slot.invalid/UNSUBSCRIBExHEADERxSLOT"
# The Date header is a slot too: a variant's bytes are kept for the whole send, the date is the batch's.
DATE_SLOT = "DATExHEADERxSLOT"

_SLOT_FOR = {
    TO_SLOT: ("to", HEADER),
    MESSAGE_ID_SLOT: ("message_id", HEADER),
    DATE_SLOT: ("date", HEADER),
    UNSUBSCRIBE_HEADER_SLOT: ("unsubscribe_url", HEADER),
}
for _field in LINK_FIELDS:
    for _context in (TEXT, HTML, TEXT8, HTML8):
        _SLOT_FOR[f"SLOTx{_field.upper().replace('_', 'x')}x{_context}xEND"] = (_field, _context)
_BODY_SLOT = {(field, context): slot for slot, (field, context) in _SLOT_FOR.items() if context != HEADER}
_SLOT_RE = re.compile(b"|".join(re.escape(slot.encode()) for slot in sorted(_SLOT_FOR, key=len, reverse=True)))
_PLACEHOLDER_RE = re.compile("|".join(re.escape(getattr(PLACEHOLDER_LINKS, f)) for f in LINK_FIELDS))
_PLACEHOLDER_FIELD = {getattr(PLACEHOLDER_LINKS, f): f for f in LINK_FIELDS}

QP_LINE = 76
# Serialised variants kept per process (a few digests' worth of variants and languages).
MEMO_SIZE = 64
_SAFE_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def message_date() -> str:
    """The Date header's value for a message made now."""
    return formatdate(localtime=settings.EMAIL_USE_LOCALTIME)


class UnsendableAddress(ValueError):
    """An address that cannot be put on the wire as plain ASCII (it would need SMTPUTF8)."""


@dataclass(frozen=True)
class Recipient:
    """Everything that differs between two readers of the same variant: the ledger row's address,
    Message-ID and the reader's links; and the Date header (a batch gives all its readers one)."""

    to: str
    message_id: str
    links: ReaderLinks
    date: str = field(default_factory=message_date)

    def value(self, name: str) -> str:
        return getattr(self, name) if name in ("to", "message_id", "date") else getattr(self.links, name)


@dataclass(frozen=True)
class VariantMessage:
    """A serialised variant: literal byte segments alternating with (field, context) slots."""

    parts: tuple[bytes | tuple[str, str], ...]
    # The bodies are 8bit: send with BODY=8BITMIME, or use ``fallback`` (quoted-printable).
    eight_bit: bool = False
    fallback: VariantMessage | None = None

    def __post_init__(self):
        # Each literal segment dot-stuffed once per variant (a reader's message is mostly these).
        stuffed = tuple(_stuffed(part) if isinstance(part, bytes) else None for part in self.parts)
        object.__setattr__(self, "_stuffed", stuffed)
        slots = tuple(part for part in self.parts if not isinstance(part, bytes))
        object.__setattr__(self, "_slots", tuple(dict.fromkeys(slots)))
        object.__setattr__(self, "_smtp_format", _smtp_format(stuffed))
        # The slots in order as one C call (a tuple even for one slot; none: no getter at all).
        object.__setattr__(self, "_slot_getter", operator.itemgetter(*slots, *slots[:1]) if slots else None)

    def for_reader(self, recipient: Recipient) -> bytes:
        """This reader's complete RFC 5322 message, CRLF line endings."""
        values = {}
        out = []
        for part in self.parts:
            if isinstance(part, bytes):
                out.append(part)
                continue
            value = values.get(part)
            if value is None:
                value = values[part] = _slot_value(recipient.value(part[0]), part[1])
            out.append(value)
        return b"".join(out)

    def smtp_data(self, recipient: Recipient) -> bytes:
        """``for_reader``'s message as SMTP DATA: every line that starts with a dot gets another
        (RFC 5321 4.5.2), then the terminating dot. Only the reader's values and the seams
        between segments are looked at per reader.

        When none of the reader's values can start or end a line (the 8bit copy's links and
        headers: non-empty, no line break, no leading dot), the seams are those of the variant
        alone, worked out once (``_smtp_format``), and the message is one formatting of bytes."""
        values = {slot: _slot_value(recipient.value(slot[0]), slot[1]) for slot in self._slots}
        # The test as three scans of the values joined, each after a NUL (a NUL in a value
        # only ever sends it the general way): a generator over the values cost as much as the rest.
        seams = b"\0" + b"\0".join(values.values())
        if all(values.values()) and b"\0." not in seams and b"\r" not in seams and b"\n" not in seams:
            return self._smtp_format % (self._slot_getter(values)[:-1] if self._slot_getter else ())
        return self._smtp_data_seams(values)

    def _smtp_data_seams(self, raw_values: dict) -> bytes:
        values = {slot: _stuffed(value) for slot, value in raw_values.items()}
        return _data_joined(literal or values[part] for part, literal in zip(self.parts, self._stuffed, strict=True))


# A slot in a variant's SMTP format: its value neither starts nor ends a line (``smtp_data``'s fast case).
_FORMAT_SLOT = (b"%s", b"%s", b"%s")


def _smtp_format(stuffed: tuple) -> bytes:
    """A variant's SMTP DATA as a bytes format, ``%s`` where each slot goes, for values that can
    neither start nor end a line: the seams decided once, by the same walk as any reader's."""
    return _data_joined(
        _FORMAT_SLOT if literal is None else (literal[0], literal[1].replace(b"%", b"%%"), literal[2]) for literal in stuffed
    )


def _data_joined(segments) -> bytes:
    """Segments, each dot-stuffed on its own (``_stuffed``), joined as SMTP DATA: the line starts that
    only a seam makes are stuffed too, and the message ends with its line and the terminating dot."""
    out = []
    tail = b"\r\n"  # the message starts a line
    for raw_start, stuffed, raw_end in segments:
        if not stuffed:
            continue
        # A line start the segment's own stuffing could not see: it began at the seam.
        if raw_start[:1] == b"." and tail == b"\r\n":
            out.append(b".")
        elif raw_start[:2] == b"\n." and tail.endswith(b"\r"):
            stuffed = b"\n." + stuffed[1:]
        out.append(stuffed)
        tail = (tail + raw_end)[-2:]
    if tail != b"\r\n":
        out.append(b"\r\n")
    out.append(b".\r\n")
    return b"".join(out)


def _stuffed(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """``raw``'s first two bytes, ``raw`` with a dot added after every CRLF followed by one, its last two bytes."""
    return raw[:2], raw.replace(b"\r\n.", b"\r\n.."), raw[-2:]


def _slot_value(value: str, context: str) -> bytes:
    if context == HEADER:
        if not value.isascii() or "\r" in value or "\n" in value:
            raise UnsendableAddress(f"not a plain ASCII header value: {value!r}")
        return value.encode("ascii")
    if context in (HTML, HTML8):
        value = html.escape(value, quote=True)
    if context in (TEXT8, HTML8):
        if not value.isascii() or "\r" in value or "\n" in value:
            raise UnsendableAddress(f"not a plain ASCII link: {value!r}")
        return value.encode("ascii")
    return _qp_wrapped(value.encode("utf-8"))


def _qp_escape(data: bytes, *, line_end: bool = False) -> list[str]:
    """Quoted-printable tokens for ``data`` (one token per output unit, never split)."""
    tokens = []
    last = len(data) - 1
    for index, byte in enumerate(data):
        if (33 <= byte <= 126 and byte != 61) or (byte in (32, 9) and not (line_end and index == last)):
            tokens.append(chr(byte))
        else:
            tokens.append(f"={byte:02X}")
    return tokens


def _qp_wrapped(data: bytes) -> bytes:
    """``data`` as quoted-printable lines of at most 76 characters joined by soft breaks.

    The slot this replaces is followed by a soft break in the template, so the
    last line leaves room for that ``=``.
    """
    lines, line = [], ""
    for token in _qp_escape(data):
        if len(line) + len(token) > QP_LINE - 1:
            lines.append(line)
            line = ""
        line += token
    lines.append(line)
    return "=\r\n".join(lines).encode("ascii")


def body_encode(text: str, context: str) -> str:
    """``text`` as quoted-printable with each reader placeholder turned into a slot on its own line."""
    out_lines: list[str] = []
    for raw_line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        pieces = _PLACEHOLDER_RE.split(raw_line)
        placeholders = _PLACEHOLDER_RE.findall(raw_line)
        current = ""
        for index, piece in enumerate(pieces):
            is_last_piece = index == len(pieces) - 1
            for token in _qp_escape(piece.encode("utf-8"), line_end=is_last_piece):
                if len(current) + len(token) > QP_LINE - 1:
                    out_lines.append(current + "=")
                    current = ""
                current += token
            if not is_last_piece:
                slot = _BODY_SLOT[(_PLACEHOLDER_FIELD[placeholders[index]], context)]
                if current:
                    out_lines.append(current + "=")
                out_lines.append(slot + "=")
                current = ""
        out_lines.append(current)
    return "\n".join(out_lines)


@functools.lru_cache(maxsize=4096)
def _domain_ascii(domain: str) -> str:
    # A batch's readers share a few domains: the idna codec ran 1,000 times per batch for
    # a handful of answers (8 % of a Mailgun worker's GIL time). Refusals are not cached.
    return domain.encode("idna").decode("ascii")


def ascii_address(address: str) -> str:
    """``address`` with an IDNA (punycode) domain; raises UnsendableAddress if it cannot be ASCII."""
    local, _, domain = address.strip().rpartition("@")
    if not local or not domain:
        raise UnsendableAddress(f"not an email address: {address!r}")
    try:
        domain = _domain_ascii(domain)
    except UnicodeError:
        raise UnsendableAddress(f"the domain of {address!r} cannot be encoded") from None
    candidate = f"{local}@{domain}"
    if not _SAFE_ADDRESS.match(candidate):
        raise UnsendableAddress(f"{address!r} needs SMTPUTF8, which bulk sending does not use")
    return candidate


def sender_domain() -> str:
    """The From address's domain, ASCII: Message-IDs and the List-Id live under it."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2].strip().lower()
    return domain.encode("idna").decode("ascii")


def message_id_for(digest_id: int, subscriber_key) -> str:
    """A Message-ID unique per (digest, reader), stable across retries, on the sending domain.

    Stable matters: a copy re-sent after an ambiguous crash carries the same
    Message-ID, which mail systems use to drop the duplicate.
    """
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{digest_id}:{subscriber_key}".encode()).hexdigest()[:24]
    return f"<digest{digest_id}.{digest}@{sender_domain()}>"


def list_id_header() -> str:
    """RFC 2919 List-Id: only the phrase is RFC 2047-encoded, the <id> stays plain ASCII."""
    name = settings.SITE_NAME.replace("\r", " ").replace("\n", " ").strip()
    if name.isascii():
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = Header(name, "utf-8").encode()
    return f"{phrase} <digest.{sender_domain()}>"


def digest_headers(digest_id: int, *, language: str) -> dict[str, str]:
    """The headers every digest email carries besides From/To/Subject; all ASCII."""
    headers = {
        "Message-ID": MESSAGE_ID_SLOT,
        "List-Unsubscribe": f"<{UNSUBSCRIBE_HEADER_SLOT}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": list_id_header(),
        # Gmail's feedback loop: campaign:customer:mail type:sender.
        "Feedback-ID": f"digest{digest_id}:{language}:digest:{sender_domain()}",
        "Auto-Submitted": "auto-generated",
    }
    return headers


def _with_slots(text: str, context: str) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: _BODY_SLOT[(_PLACEHOLDER_FIELD[m.group()], context)], text)


def _slots_on(line: str) -> int:
    return len(_PLACEHOLDER_RE.findall(line))


def _cut(raw: bytes) -> tuple[bytes | tuple[str, str], ...]:
    parts: list[bytes | tuple[str, str]] = []
    position = 0
    for match in _SLOT_RE.finditer(raw):
        parts.append(raw[position : match.start()])
        parts.append(_SLOT_FOR[match.group().decode()])
        position = match.end()
    parts.append(raw[position:])
    return tuple(parts)


def _message(rendered, *, digest_id: int, language: str, eight_bit: bool) -> bytes:
    text = _with_slots(rendered.text, TEXT8) if eight_bit else rendered.text
    html_body = _with_slots(rendered.html, HTML8) if eight_bit else rendered.html
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[TO_SLOT],
        reply_to=[settings.REPLY_TO_EMAIL] if settings.REPLY_TO_EMAIL else None,
        headers={**digest_headers(digest_id, language=language), "Date": DATE_SLOT},
    )
    message.attach_alternative(html_body, "text/html")
    mime = message.message()
    for part in mime.walk():
        subtype = part.get_content_type()
        if subtype not in ("text/plain", "text/html"):
            continue
        if eight_bit:
            if part["Content-Transfer-Encoding"] != "8bit":
                raise ValueError("a body line is too long for 8bit")
            continue
        source = rendered.text if subtype == "text/plain" else rendered.html
        part.set_payload(body_encode(source, TEXT if subtype == "text/plain" else HTML))
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = "quoted-printable"
    raw = mime.as_bytes(linesep="\r\n")
    if not eight_bit and not raw.isascii():
        raise ValueError("a quoted-printable digest message must be ASCII on the wire")
    return raw


def variant_message(rendered, *, digest_id: int, language: str) -> VariantMessage:
    """Build and serialise one variant (a RenderedEmail made with PLACEHOLDER_LINKS) once: 8bit with a
    quoted-printable fallback when EMAIL_BODY_ENCODING is 8bit and every line fits, else quoted-printable.

    Kept per process for as long as the same ``rendered`` object comes back (``variant_inlined``
    returns one object per variant and content): serialising costs about as much as sending a
    hundred messages, and doing it for every batch took the GIL from the connections' threads."""
    key = (
        id(rendered),
        digest_id,
        language,
        settings.EMAIL_BODY_ENCODING,
        settings.DEFAULT_FROM_EMAIL,
        settings.REPLY_TO_EMAIL,
        settings.SITE_NAME,
    )
    with _memo_lock:
        kept = _memo.get(key)
        if kept is not None and kept[0] is rendered:
            _memo.move_to_end(key)
            return kept[1]
    message = _variant_message(rendered, digest_id=digest_id, language=language)
    with _memo_lock:
        # The entry holds ``rendered`` itself, so its id cannot be reused while the entry lives.
        _memo[key] = (rendered, message)
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return message


_memo: OrderedDict[tuple, tuple] = OrderedDict()
_memo_lock = threading.Lock()


def _variant_message(rendered, *, digest_id: int, language: str) -> VariantMessage:
    qp = VariantMessage(parts=_cut(_message(rendered, digest_id=digest_id, language=language, eight_bit=False)))
    fits = all(body_fits_8bit(body, slots_per_line=_slots_on) for body in (rendered.text, rendered.html))
    if settings.EMAIL_BODY_ENCODING != "8bit" or not fits:
        return qp
    raw = _message(rendered, digest_id=digest_id, language=language, eight_bit=True)
    return VariantMessage(parts=_cut(raw), eight_bit=True, fallback=qp)
