"""Hand a batch of readers' messages to the bulk connection and report each outcome.

* SMTP: every message's ready-made bytes, the batch cut into DELIVERY_SMTP_CONNECTIONS
  lanes sent at once, each over its own connection (in a thread), with PIPELINING
  where the server offers it (one round trip a message: each data with the next
  message's envelope behind it, RFC 2920) and the dot-stuffing
  done on bytes, each variant's literal segments once (``VariantMessage.smtp_data``).
* django-anymail, providers with per-recipient merge in the body (Mailgun):
  one API call per variant and up to the provider's batch limit, with
  ``merge_data`` (each reader's links), ``merge_headers`` (List-Unsubscribe,
  Message-ID) and ``merge_metadata`` (``delivery_id``, ``digest_id``, which the
  webhook receiver uses to find the delivery).
* other anymail providers (Postmark, SES, …: their batch APIs cannot vary the
  body per reader without stored templates): one call per reader over one
  reused HTTP session, with the same metadata.
* any other Django backend (file outbox, locmem in tests, console): the
  ready-made bytes, one message each.

Every transport calls ``journal(done, busy_for)`` before each provider call (``done``: the
outcomes so far, in claim order), or for SMTP ``journal.split`` and then each lane's
journal before each message, so the ledger knows what a dying worker had done (see
ledger.py and journal.py).
"""

from __future__ import annotations

import email
import email.policy
import logging
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from digests.delivery import retry
from digests.delivery.messages import LINK_FIELDS, Recipient, VariantMessage, ascii_address, digest_headers
from digests.delivery.outcomes import Code, Outcome
from digests.delivery.throttle import throttle_wait
from digests.links import PLACEHOLDER_LINKS
from digests.rendering.personalise import email_personalise

# Providers whose batch API substitutes per-recipient values anywhere in the body.
MERGE_SYNTAX = {"mailgun": "%recipient.{}%"}
BATCH_LIMITS = {"mailgun": 1000, "sendgrid": 1000, "postmark": 500, "amazon_ses": 50}
THROTTLE_CHUNK = 20
KIND_CODE = {retry.OUTAGE: Code.OUTAGE, retry.TRANSIENT: Code.RETRY, retry.PERMANENT: Code.FAILED}
INTERRUPTED = "the batch was interrupted before this message"

log = logging.getLogger(__name__)


@dataclass
class Outgoing:
    """One reader's message: ``raw`` for byte transports, ``rendered`` + ``fields`` for providers."""

    delivery_id: int
    digest_id: int
    fields: Recipient | None
    subscriber_id: int | None = None  # for log lines, which never carry the address
    variant: VariantMessage | None = None
    rendered: object | None = None  # RenderedEmail with PLACEHOLDER_LINKS
    variant_key: tuple = ()
    error: str = ""  # set when the message cannot be made (e.g. an unsendable address)


Journal = Callable[[list[Outcome], float], None]


def call_timeout(connection) -> float:
    """How long one provider call may take before it has surely returned or failed."""
    if isinstance(connection, SMTPBackend):
        # MAIL, RCPT, DATA and the end of data can each wait the socket timeout.
        return 4 * float(connection.timeout or 30) + 5
    timeout = (settings.ANYMAIL or {}).get("REQUESTS_TIMEOUT", 30)
    if isinstance(timeout, (tuple, list)):
        timeout = sum(float(t) for t in timeout)
    return 2 * float(timeout) + 5


def transport_needs_bytes(connection) -> bool:
    """Whether ``transport_send`` on this connection sends ready-made MIME bytes (all but anymail)."""
    from anymail.backends.base import AnymailBaseBackend

    return not isinstance(connection, AnymailBaseBackend)


def transport_send(
    connection, items: list[Outgoing], *, journal: Journal, stop: threading.Event | None = None
) -> dict[int, Outcome]:
    """Send ``items`` in order; one Outcome per delivery id. Once ``stop`` is set, nothing new is
    attempted: the rest wait (an outage) and come back."""
    busy_for = call_timeout(connection)
    stop = stop or threading.Event()
    if isinstance(connection, SMTPBackend):
        return _smtp(connection, items, journal, busy_for, stop=stop)
    from anymail.backends.base import AnymailBaseBackend

    if isinstance(connection, AnymailBaseBackend):
        provider = settings.MAIL_CONNECTIONS["bulk"].get("provider") or connection.esp_name.lower()
        return _anymail(connection, items, journal, busy_for, provider=provider, stop=stop)
    return _django(connection, items, journal, busy_for, stop=stop)


def _journalled_sleep(journal: Journal, done: list[Outcome], busy_for: float) -> Callable[[float], None]:
    """A sleep for throttle_wait that first moves the journal's deadline past the wait,
    so the sweeper never takes a worker waiting for its send slots for a dead one."""

    def sleep(seconds: float) -> None:
        journal(done, busy_for + seconds)
        time.sleep(seconds)

    return sleep


def _envelope_from() -> str:
    return ascii_address(parseaddr(settings.DEFAULT_FROM_EMAIL)[1])


def smtp_connections() -> int:
    """DELIVERY_SMTP_CONNECTIONS: how many SMTP connections one batch sends over at once."""
    return max(1, settings.DELIVERY_SMTP_CONNECTIONS)


def _lanes(count: int, lanes: int) -> list[tuple[int, int]]:
    """``count`` indices cut into ``lanes`` contiguous ranges of (almost) equal size."""
    lanes = max(1, min(lanes, count))
    size, extra = divmod(count, lanes)
    ranges, start = [], 0
    for index in range(lanes):
        end = start + size + (1 if index < extra else 0)
        ranges.append((start, end))
        start = end
    return ranges


def _smtp_clone(connection: SMTPBackend) -> SMTPBackend:
    """Another connection to the same server with the same settings (each lane has its own socket)."""
    return type(connection)(
        host=connection.host,
        port=connection.port,
        username=connection.username,
        password=connection.password,
        use_tls=connection.use_tls,
        use_ssl=connection.use_ssl,
        timeout=connection.timeout,
        ssl_keyfile=connection.ssl_keyfile,
        ssl_certfile=connection.ssl_certfile,
        fail_silently=False,
    )


def _smtp(
    connection: SMTPBackend, items: list[Outgoing], journal, busy_for: float, *, stop: threading.Event
) -> dict[int, Outcome]:
    """Each lane of the batch over its own connection, in threads: the socket work releases the GIL,
    and a send to a nearby server is bound by round trips, not by the CPU."""
    ranges = _lanes(len(items), smtp_connections()) if items else []
    if not ranges:
        return {}
    lanes = journal.split(ranges, busy_for)
    connections = [connection] + [_smtp_clone(connection) for _ in ranges[1:]]
    if len(ranges) == 1:
        return _smtp_lane(connection, items, lanes[0], busy_for, stop=stop)
    results: list[dict | BaseException] = [{} for _ in ranges]

    def run(index: int, start: int, end: int) -> None:
        try:
            results[index] = _smtp_lane(connections[index], items[start:end], lanes[index], busy_for, stop=stop)
        except BaseException as exc:  # re-raised in the batch's thread below
            results[index] = exc

    threads = [
        threading.Thread(target=run, args=(index, start, end), name=f"smtp-lane-{index}")
        for index, (start, end) in enumerate(ranges)
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        # Interrupted (a soft time limit arrives in this thread): the lanes start nothing new,
        # and the batch gives up only once no call of theirs can still be running.
        stop.set()
        for thread in threads:
            thread.join()
        raise
    outcomes: dict[int, Outcome] = {}
    for result in results:
        if isinstance(result, BaseException):
            raise result
        outcomes.update(result)
    return outcomes


class _Refused(Exception):
    """The lane's session is unusable (e.g. the server said 354 to a refused envelope)."""


def _mail_command(sender: str, options: list[str]) -> str:
    return f"MAIL FROM:<{sender}>" + "".join(f" {option}" for option in options)


def _envelope_bytes(sender: str, to: str, options: list[str]) -> bytes:
    """MAIL, RCPT and DATA as one pipelined write."""
    return f"{_mail_command(sender, options)}\r\nRCPT TO:<{to}>\r\nDATA\r\n".encode("ascii")


def _envelope_replies(replies: list[tuple[int, bytes]], sender: str, to: str) -> None:
    """Judge the envelope's replies (MAIL's, then RCPT's and DATA's if they were sent): returns once the
    server said 354, else raises smtplib's exception for the refusal (or _Refused, see below)."""
    (mail_code, mail_reply), *rest = replies
    if len(replies) == 3 and replies[2][0] == 354 and (mail_code != 250 or replies[1][0] not in (250, 251)):
        raise _Refused("the server accepted DATA for a refused envelope")
    if mail_code != 250:
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, sender)
    if rest[0][0] not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({to: rest[0]})
    if rest[1][0] != 354:
        raise smtplib.SMTPDataError(*rest[1])


def _envelope(smtp: smtplib.SMTP, sender: str, to: str, options: list[str], lane, busy_for: float, pipelining: bool) -> None:
    """MAIL, RCPT and DATA up to the server's 354, with the lane's journal written before that:
    after this returns the message's data may go. Raises smtplib's exceptions for refusals."""
    if pipelining:
        # The journal write overlaps the envelope's round trip: nothing is handed over before the data.
        smtp.send(_envelope_bytes(sender, to, options))
        lane.write(busy_for)
        replies = [smtp.getreply(), smtp.getreply(), smtp.getreply()]
    else:
        lane.write(busy_for)
        replies = [smtp.docmd(_mail_command(sender, options))]
        if replies[0][0] == 250:
            replies.append(smtp.docmd(f"RCPT TO:<{to}>"))
            if replies[1][0] in (250, 251):
                replies.append(smtp.docmd("DATA"))
    _envelope_replies(replies, sender, to)


def _smtp_lane(
    connection: SMTPBackend, items: list[Outgoing], lane, busy_for: float, *, stop: threading.Event
) -> dict[int, Outcome]:
    """Send one lane's items in order over ``connection``; the lane's journal says how far it got.
    Once ``stop`` is set, the rest of the lane is not attempted.

    Under PIPELINING each message costs one round trip (RFC 2920): the next message's envelope
    (MAIL, RCPT, DATA) goes in the same write as this message's data, behind its final dot, so the
    reply to the data and the next envelope's replies come back together. An envelope hands nothing
    over (a server discards a transaction whose data never came), and the lane's journal still says
    the next message is in flight before its data goes, so a killed worker leaves at most one
    ambiguous message per connection as before. A message is not chained behind another when it
    cannot be sent (``error``), when it starts a THROTTLE_CHUNK under a rate limit (the throttle may
    wait, and a server is never left waiting in DATA across that) or once ``stop`` is set. A lane that ends while a
    transaction may be waiting for its data closes its socket without QUIT, which the server would
    take for message text: nothing partial is ever ended with a dot."""
    outcomes: dict[int, Outcome] = {}
    lane.write(busy_for, in_flight=False)  # connecting and the greeting: nothing handed over yet
    try:
        connection.open()
    except Exception as exc:
        return {item.delivery_id: Outcome(Code.OUTAGE, retry.error_text(exc)) for item in items}
    sender = _envelope_from()
    broken: str = ""
    try:
        smtp = connection.connection
        smtp.ehlo_or_helo_if_needed()
        # 8bit bodies need the server's 8BITMIME; without it each variant's quoted-printable copy goes.
        eight_bit_ok, pipelining = smtp.has_extn("8bitmime"), smtp.has_extn("pipelining")
    except Exception as exc:
        broken, eight_bit_ok, pipelining = retry.error_text(exc), False, False

    def sleep(seconds: float) -> None:
        # The journal's deadline moves past a wait for send slots first.
        lane.write(busy_for + seconds, in_flight=False)
        stop.wait(seconds)

    def prepared(item: Outgoing) -> tuple[VariantMessage, list[str]]:
        if item.variant.eight_bit:
            if eight_bit_ok:
                return item.variant, ["BODY=8BITMIME"]
            return item.variant.fallback, []
        return item.variant, []

    def chains_to(index: int) -> bool:
        """Whether items[index]'s envelope may go behind the data of the message before it."""
        new_chunk = throttled and index % THROTTLE_CHUNK == 0
        return pipelining and index < len(items) and not items[index].error and not new_chunk and not stop.is_set()

    throttled = settings.DELIVERY_RATE_PER_SECOND > 0  # unlimited, the throttle never waits
    chained = False  # this item's envelope went behind the previous data; its replies are still to be read
    awaiting_data = False  # a transaction may be waiting for its data (its DATA may have had a 354)
    try:
        for index, item in enumerate(items):
            if stop.is_set() and not broken:
                broken = INTERRUPTED
            if broken:
                outcomes[item.delivery_id] = Outcome(Code.OUTAGE, broken)
                continue
            if item.error:
                outcomes[item.delivery_id] = Outcome(Code.FAILED, item.error)
                lane.add(outcomes[item.delivery_id])
                continue
            if index % THROTTLE_CHUNK == 0:
                throttle_wait(min(THROTTLE_CHUNK, len(items) - index), sleep=sleep)
                if stop.is_set():
                    broken = INTERRUPTED
                    outcomes[item.delivery_id] = Outcome(Code.OUTAGE, broken)
                    continue
            variant, options = prepared(item)
            data = variant.smtp_data(item.fields)
            sent_data = False
            try:
                if chained:
                    # The envelope is on its way already: the journal says this message is in flight, then its replies.
                    chained, awaiting_data = False, True
                    lane.write(busy_for)
                    replies = [smtp.getreply(), smtp.getreply(), smtp.getreply()]
                    awaiting_data = replies[2][0] == 354
                    _envelope_replies(replies, sender, item.fields.to)
                else:
                    awaiting_data = True
                    _envelope(smtp, sender, item.fields.to, options, lane, busy_for, pipelining)
                if chains_to(index + 1):
                    following = items[index + 1]
                    _, following_options = prepared(following)
                    smtp.send(data + _envelope_bytes(sender, following.fields.to, following_options))
                    chained = True
                else:
                    smtp.send(data)
                sent_data, awaiting_data = True, chained
                code, reply = smtp.getreply()
                if code != 250:
                    raise smtplib.SMTPDataError(code, reply)
                outcome = Outcome(Code.SENT)
            except Exception as exc:
                kind = retry.OUTAGE if isinstance(exc, _Refused) else retry.smtp_error_kind(exc)
                outcome = Outcome(KIND_CODE[kind], retry.error_text(exc))
                if kind == retry.OUTAGE:
                    broken = outcome.error
                elif sent_data and chained:
                    # The refused data ended its transaction; the next envelope behind it stands.
                    pass
                elif isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
                    # A refused transaction leaves the session mid-way; start the next one cleanly.
                    try:
                        smtp.rset()
                        awaiting_data = False
                    except Exception as reset_exc:
                        broken = retry.error_text(reset_exc)
            outcomes[item.delivery_id] = outcome
            lane.add(outcome)
    finally:
        try:
            if awaiting_data and connection.connection is not None:
                # QUIT would be read as message text: the socket closes, and the server drops the transaction.
                connection.connection.close()
                connection.connection = None
            connection.close()
        except Exception:
            pass
        try:
            lane.close()
        except Exception as exc:
            # Every outcome is known and will be recorded; only a dead worker's sweeper reads the journal.
            log.warning("a lane's last journal write was refused (%s)", retry.error_text(exc))
    return outcomes


class _RawMessage(EmailMessage):
    """An EmailMessage whose MIME form is given bytes (for the outbox, locmem and console backends)."""

    def __init__(self, raw: bytes, to: str):
        super().__init__(to=[to])
        self.raw = raw
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.subject = str(parsed["Subject"])
        self.from_email = str(parsed["From"])

    def message(self, *args, **kwargs):
        raw = self.raw

        class _Raw(email.message.Message):
            def as_bytes(self, unixfrom=False, linesep="\n", **_):
                return raw if linesep == "\r\n" else raw.replace(b"\r\n", linesep.encode())

            def as_string(self, unixfrom=False, linesep="\n", **_):
                return self.as_bytes(linesep=linesep).decode("ascii")

        return email.message_from_bytes(raw, _class=_Raw)


def _django(connection, items: list[Outgoing], journal: Journal, busy_for: float, *, stop: threading.Event) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    done: list[Outcome] = []
    for item in items:
        if stop.is_set():
            outcomes[item.delivery_id] = Outcome(Code.OUTAGE, INTERRUPTED)
        elif item.error:
            outcomes[item.delivery_id] = Outcome(Code.FAILED, item.error)
        else:
            journal(done, busy_for)
            try:
                connection.send_messages([_RawMessage(item.variant.for_reader(item.fields), item.fields.to)])
                outcomes[item.delivery_id] = Outcome(Code.SENT)
            except Exception as exc:
                outcomes[item.delivery_id] = Outcome(Code.OUTAGE, retry.error_text(exc))
        done.append(outcomes[item.delivery_id])
    return outcomes


# --- django-anymail -----------------------------------------------------------------------------


def _anymail_message(item: Outgoing, *, to: list[str], html: str, text: str, headers: dict):
    from anymail.message import AnymailMessage

    message = AnymailMessage(
        subject=item.rendered.subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        reply_to=[settings.REPLY_TO_EMAIL] if settings.REPLY_TO_EMAIL else None,
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message


def _common_headers(item: Outgoing) -> dict[str, str]:
    headers = digest_headers(item.digest_id, language=item.variant_key[1] if len(item.variant_key) > 1 else "")
    for per_reader in ("Message-ID", "List-Unsubscribe"):
        headers.pop(per_reader)
    return headers


def _reader_headers(fields: Recipient) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{fields.links.unsubscribe_url}>", "Message-ID": fields.message_id}


def _metadata(item: Outgoing) -> dict[str, str]:
    return {"delivery_id": str(item.delivery_id), "digest_id": str(item.digest_id)}


def _status_outcomes(message, group: list[Outgoing], provider: str) -> dict[int, Outcome]:
    outcomes = {}
    recipients = message.anymail_status.recipients
    for item in group:
        status = recipients.get(item.fields.to)
        if status is None or status.status in ("sent", "queued", "scheduled", "unknown"):
            outcomes[item.delivery_id] = Outcome(Code.SENT, provider_message_id=(status.message_id or "") if status else "")
        elif status.status in ("deferred",):
            outcomes[item.delivery_id] = Outcome(Code.RETRY, f"{provider}: {status.status}")
        else:
            reason = _provider_reason(getattr(message.anymail_status, "esp_response", None))
            outcomes[item.delivery_id] = Outcome(Code.FAILED, f"{provider}: recipient {status.status}: {reason}"[:1000])
    return outcomes


def _provider_reason(response) -> str:
    """The provider's own words from an API response (Postmark "Message", Mailgun "message", …)."""
    if response is None:
        return ""
    try:
        data = response.json()
    except ValueError:
        return (response.text or "")[:500]
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        for key in ("Message", "message", "error", "errors"):
            if data.get(key):
                return str(data[key])[:500]
    return str(data)[:500]


def _anymail_error_outcomes(exc: Exception, group: list[Outgoing]) -> dict[int, Outcome]:
    from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused

    text = retry.error_text(exc)
    reason = _provider_reason(getattr(exc, "response", None))
    if reason and reason not in text:
        text = f"{text} ({reason})"[:1000]
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        code = Code.FAILED
    elif isinstance(exc, AnymailAPIError):
        code = KIND_CODE[retry.http_status_kind(getattr(exc, "status_code", None))]
    else:
        code = Code.OUTAGE
    return {item.delivery_id: Outcome(code, text) for item in group}


def _anymail(
    connection, items: list[Outgoing], journal: Journal, busy_for: float, *, provider: str, stop: threading.Event
) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    ready = []
    for item in items:
        if item.error:
            outcomes[item.delivery_id] = Outcome(Code.FAILED, item.error)
        else:
            ready.append(item)
    syntax = MERGE_SYNTAX.get(provider)
    limit = BATCH_LIMITS.get(provider, 500)
    groups: list[list[Outgoing]] = []
    if syntax:
        by_variant: dict[tuple, list[Outgoing]] = {}
        for item in ready:
            by_variant.setdefault(item.variant_key, []).append(item)
        for group in by_variant.values():
            groups.extend(group[i : i + limit] for i in range(0, len(group), limit))
    else:
        groups = [[item] for item in ready]

    def progress():
        # The journal lists outcomes in claim order; a group sent out of order
        # is journalled as a prefix only once everything before it is known.
        done = []
        for item in items:
            outcome = outcomes.get(item.delivery_id)
            if outcome is None:
                break
            done.append(outcome)
        return done

    connection.open()
    try:
        for group in groups:
            if stop.is_set():
                outcomes.update({item.delivery_id: Outcome(Code.OUTAGE, INTERRUPTED) for item in group})
                continue
            throttle_wait(len(group), sleep=_journalled_sleep(journal, progress(), busy_for))
            journal(progress(), busy_for)
            if syntax and len(group) > 1:
                result = _anymail_batch(connection, group, syntax=syntax, provider=provider)
                permanent = [
                    pk for pk, outcome in result.items() if outcome.code == Code.FAILED and not outcome.provider_message_id
                ]
                if len(permanent) == len(group):
                    # A whole batch refused (e.g. one malformed address makes Mailgun
                    # answer 400): send each reader alone to find the culprit.
                    result = {}
                    for item in group:
                        journal(progress(), busy_for)
                        result.update(_anymail_single(connection, item, provider=provider))
            else:
                result = {}
                for item in group:
                    result.update(_anymail_single(connection, item, provider=provider))
            outcomes.update(result)
    finally:
        connection.close()
    return outcomes


def _anymail_single(connection, item: Outgoing, *, provider: str) -> dict[int, Outcome]:
    personal = email_personalise(item.rendered, item.fields.links)
    message = _anymail_message(
        item,
        to=[item.fields.to],
        html=personal.html,
        text=personal.text,
        headers=_common_headers(item) | _reader_headers(item.fields),
    )
    message.metadata = _metadata(item)
    try:
        connection.send_messages([message])
    except Exception as exc:
        return _anymail_error_outcomes(exc, [item])
    return _status_outcomes(message, [item], provider)


def _anymail_batch(connection, group: list[Outgoing], *, syntax: str, provider: str) -> dict[int, Outcome]:
    message = anymail_batch_message(group, syntax=syntax)
    try:
        connection.send_messages([message])
    except Exception as exc:
        return _anymail_error_outcomes(exc, group)
    return _status_outcomes(message, group, provider)


def anymail_batch_message(group: list[Outgoing], *, syntax: str):
    """One API call's message for readers of one variant: the variant's parts with the provider's
    merge fields where each reader's links go, and each reader's links, headers and metadata."""
    import html as html_lib

    first = group[0]
    values = {item.fields.to: {field: getattr(item.fields.links, field) for field in LINK_FIELDS} for item in group}
    # The HTML part needs its own, escaped copy of a link only if escaping changes one (our
    # tokens never need it): without the copies each API call is a third smaller to encode.
    escaped = any(html_lib.escape(value, quote=True) != value for links in values.values() for value in links.values())
    text, html = first.rendered.text, first.rendered.html
    for field in LINK_FIELDS:
        placeholder = getattr(PLACEHOLDER_LINKS, field)
        text = text.replace(placeholder, syntax.format(field))
        html = html.replace(placeholder, syntax.format(field + "_html" if escaped else field))
    message = _anymail_message(first, to=[item.fields.to for item in group], html=html, text=text, headers=_common_headers(first))
    # merge_data for every recipient, always: without it the provider would
    # send one message with every address in To.
    if escaped:
        for links in values.values():
            links.update({field + "_html": html_lib.escape(value, quote=True) for field, value in list(links.items())})
    message.merge_data = values
    message.merge_headers = {item.fields.to: _reader_headers(item.fields) for item in group}
    message.merge_metadata = {item.fields.to: _metadata(item) for item in group}
    return message
