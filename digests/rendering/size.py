"""The size of an email as it travels: the HTML part encoded for transport."""

from __future__ import annotations

import quopri

from django.core.mail import EmailMultiAlternatives

from digests.rendering.render import RenderedEmail


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


def email_html_sent_size(rendered: RenderedEmail) -> int:
    """Bytes of the HTML part as digests go out: quoted-printable, the bulk sender's
    ASCII-only encoding (digests.delivery.messages), which is larger than 8bit for Chinese."""
    return len(quopri.encodestring(rendered.html.encode("utf-8")))
