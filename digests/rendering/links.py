"""The per-reader links an email carries, and the placeholders that stand in for them.

A variant (digest + category set) is rendered and inlined once with these
ASCII placeholders; each reader's copy is made by replacing them with that
reader's signed links. Placeholders are plain ASCII with no characters that
HTML escaping, quoted-printable or URL encoding would alter.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ReaderLinks:
    preferences_url: str
    unsubscribe_url: str
    # A signed reference to this reader's delivery, for click/open tracking links
    # (/r/<item token>/?r=<reader_ref>); empty outside a real send.
    reader_ref: str = ""


PLACEHOLDER_LINKS = ReaderLinks(
    preferences_url="https://reader.invalid/PREFERENCESxTOKENxPLACEHOLDER",
    unsubscribe_url="https://reader.invalid/UNSUBSCRIBExTOKENxPLACEHOLDER",
    reader_ref="READERxREFxPLACEHOLDER",
)
