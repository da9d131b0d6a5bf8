"""The size of an email as it travels: the whole message, headers and both parts, encoded for transport.

Rendering may not import delivery (which builds the real message), so this
builds the same multipart message with Django and the same choice of transfer
encoding (8bit when every line fits, else quoted-printable), and adds a fixed
allowance for the headers and reader links delivery adds. A delivery test
holds it to that promise: the real message for a reader is never larger.
"""

from __future__ import annotations

import quopri

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from digests.rendering.lines import body_fits_8bit
from digests.rendering.render import RenderedEmail

# List-Unsubscribe, List-Id, Feedback-ID, Message-ID, To and the reader's links in both parts.
HEADER_ALLOWANCE = 1500


def email_message(rendered: RenderedEmail, *, to: str = "reader@example.com") -> EmailMultiAlternatives:
    """A multipart/alternative message (text first, HTML last) carrying ``rendered``."""
    message = EmailMultiAlternatives(subject=rendered.subject, body=rendered.text, to=[to])
    message.attach_alternative(rendered.html, "text/html")
    return message


def html_part(rendered: RenderedEmail):
    """The text/html MIME part Django would put on the wire for ``rendered``."""
    for part in email_message(rendered).message().walk():
        if part.get_content_type() == "text/html":
            return part
    raise LookupError("the message has no text/html part")


def email_html_encoded_bytes(rendered: RenderedEmail) -> bytes:
    """The HTML part's payload exactly as encoded for transport (8bit, quoted-printable or base64)."""
    payload = html_part(rendered).get_payload(decode=False)
    return payload.encode("utf-8", errors="surrogateescape") if isinstance(payload, str) else payload


def email_sends_8bit(rendered: RenderedEmail) -> bool:
    """Whether the bodies go out as 8bit (EMAIL_BODY_ENCODING allows it and every line fits)."""
    return settings.EMAIL_BODY_ENCODING == "8bit" and body_fits_8bit(rendered.text) and body_fits_8bit(rendered.html)


def email_sent_size(rendered: RenderedEmail) -> int:
    """Bytes of the whole message as digests go out (an upper bound: headers get a fixed allowance)."""
    if email_sends_8bit(rendered):
        body = len(email_message(rendered).message().as_bytes(linesep="\r\n"))
    else:
        body = sum(len(quopri.encodestring(part.encode("utf-8"))) for part in (rendered.text, rendered.html)) + 600
    return body + HEADER_ALLOWANCE
