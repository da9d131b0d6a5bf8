"""Mailgun through django-anymail, with a batch call's request built in bulk.

``EMAIL_URL=anymail://mailgun`` sends through this backend: anymail's own Mailgun
backend and payload (settings, endpoint, errors, statuses and webhooks unchanged),
with three costs of a 1,000-reader batch call taken out:

* **The form.** anymail hands requests a dict, which requests URL-encodes byte by
  byte (``urllib.parse.quote_from_bytes``): about 0.9 MB of escapes per call, most of
  it the recipient-variables JSON. This payload hands requests the body ready-made as
  ``multipart/form-data`` (RFC 7578): the same fields, each value its UTF-8 bytes
  between boundaries, nothing escaped. It is byte for byte what requests (urllib3)
  makes of the same fields whenever anymail sends Mailgun an attachment, so Mailgun
  takes it; a message with attachments still goes through requests as before.
* **The addresses.** anymail parses every ``to`` address with ``email.utils.getaddresses``
  and then the header parser again (``EmailAddress``): about 40 µs each. A bare ASCII
  address of the plainest form (a dot-atom local part, an LDH domain: what the ledger's
  ``ascii_address`` gives for every real reader) parses to its two halves and nothing
  else, so it is split at the ``@`` instead; anything else (display names, quotes,
  non-ASCII, comments) still goes through anymail's parser.
* **recipient-variables.** Serialised once, compactly, non-ASCII characters kept as
  UTF-8 rather than escaped (``ensure_ascii=False``: the same JSON value, a smaller body).
"""

from __future__ import annotations

import json
import re

from anymail.backends.mailgun import EmailBackend as AnymailMailgunBackend
from anymail.backends.mailgun import MailgunPayload as AnymailMailgunPayload
from anymail.exceptions import AnymailSerializationError
from anymail.utils import EmailAddress, parse_address_list
from urllib3.filepost import choose_boundary

_ATOM = r"[A-Za-z0-9_+-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# Only addresses whose parse is their split at the "@": no character the header parser quotes,
# folds or reads as structure, so both halves come out exactly as written.
PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*\Z")


class PlainAddress(EmailAddress):
    """What ``anymail.utils.EmailAddress`` makes of a PLAIN_ADDRESS, without parsing it."""

    def __init__(self, address: str):
        # Address.__init__ would only check for CR/LF, which PLAIN_ADDRESS excludes.
        self._display_name = ""
        self._username, _, self._domain = address.rpartition("@")
        self._addr_spec = address

    @property
    def addr_spec(self) -> str:
        return self._addr_spec

    def format(self, *, use_rfc2047=False, idna_encode=None) -> str:
        # No display name to encode and an ASCII domain: the address as it is.
        return self._addr_spec


def recipients_parsed(addresses, *, field: str = "to") -> list[EmailAddress]:
    """anymail's ``parse_address_list`` for a list of addresses, plain ones taken apart at the ``@``."""
    parsed: list[EmailAddress] = []
    for address in addresses:
        if isinstance(address, str) and PLAIN_ADDRESS.match(address):
            parsed.append(PlainAddress(address))
        else:
            parsed.extend(parse_address_list([address], field=field))
    return parsed


def form_multipart(fields: dict, boundary: str) -> bytes:
    """``fields`` (name -> value or list of values, None skipped) as a multipart/form-data body:
    what urllib3's ``encode_multipart_formdata`` makes of them (through requests) with this boundary."""
    parts = []
    for name, values in fields.items():
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            values = [values]
        # urllib3 writes the name as the WHATWG form encoding does: \n, \r and " percent-encoded.
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name.translate(_NAME_ESCAPES)}"\r\n\r\n'.encode()
        for value in values:
            if value is None:
                continue
            parts.append(head)
            parts.append(value if isinstance(value, bytes) else str(value).encode())
            parts.append(b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


_NAME_ESCAPES = {10: "%0A", 13: "%0D", 34: "%22"}


class MailgunPayload(AnymailMailgunPayload):
    base_message_attrs = tuple(
        (attr, combiner, "recipients_parsed" if attr == "to" else converter)
        for attr, combiner, converter in AnymailMailgunPayload.base_message_attrs
    )

    def recipients_parsed(self, addresses) -> list[EmailAddress]:
        return recipients_parsed(addresses, field="to")

    def serialize_json(self, data) -> str:
        try:
            return json.dumps(data, default=self._json_default, ensure_ascii=False, separators=(",", ":"))
        except TypeError as err:
            raise AnymailSerializationError(
                orig_err=err, email_message=self.message, backend=self.backend, payload=self
            ) from None

    def serialize_data(self):
        data = super().serialize_data()
        if self.files:
            return data  # requests builds the multipart body with the attachments
        boundary = choose_boundary()
        self.headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        return form_multipart(data, boundary)


class EmailBackend(AnymailMailgunBackend):
    """anymail's Mailgun backend with the bulk-built payload above."""

    def build_message_payload(self, message, defaults):
        return MailgunPayload(message, defaults, self)
