"""Strict, linear-time checks for what readers type: an email address and a name.

No regular expression here: each check is a single pass over input whose
length is bounded first, so a hostile 5,000-character value costs nothing.
Addresses are stored with the local part as typed (it may be case-sensitive)
and the domain lower-cased and IDNA-encoded (``user@例子.中国`` becomes
``user@xn--fsqu00a.xn--fiqs8s``). A local part must be ASCII: nothing on our
mail path speaks SMTPUTF8, so ``用户@例子.中国`` is refused with a clear message.
"""

from __future__ import annotations

import functools
import string

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_ADDRESS = 254  # RFC 5321 path limit minus the angle brackets
MAX_LOCAL = 64
MAX_LABEL = 63
MAX_NAME = 100

# RFC 5322 "atext" specials allowed unquoted in a local part, plus the dot.
LOCAL_SPECIALS = set("!#$%&'*+-/=?^_`{|}~.")
LABEL_CHARS = set(string.ascii_lowercase + string.digits + "-")


# Deleting these leaves a string shorter: one pass in C rather than a Python loop per character.
CONTROLS = dict.fromkeys([*range(32), 127])


def _has_control(text: str) -> bool:
    return len(text.translate(CONTROLS)) != len(text)


def email_normalise(raw: str) -> str:
    """The stored form of ``raw``; raises ValidationError (with a code) saying what is wrong."""
    if raw is None:
        raise ValidationError(_("Enter an email address."), code="required")
    if len(raw) > MAX_ADDRESS + 20:
        # Checked before anything else touches the value.
        raise ValidationError(
            _("This address is too long: an email address has at most %(max)d characters."),
            code="too_long",
            params={"max": MAX_ADDRESS},
        )
    value = raw.strip()
    if not value:
        raise ValidationError(_("Enter an email address."), code="required")
    if _has_control(value):
        raise ValidationError(_("The address must be on one line, without control characters."), code="control")
    if len(value) > MAX_ADDRESS:
        raise ValidationError(
            _("This address is too long: an email address has at most %(max)d characters."),
            code="too_long",
            params={"max": MAX_ADDRESS},
        )
    if value.count("@") != 1:
        raise ValidationError(_("Enter an address with exactly one @, such as name@example.com."), code="at_sign")
    local, domain = value.split("@")
    _check_local(local)
    domain = _domain_normalise(domain)
    address = f"{local}@{domain}"
    if len(address) > MAX_ADDRESS:
        raise ValidationError(
            _("This address is too long: an email address has at most %(max)d characters."),
            code="too_long",
            params={"max": MAX_ADDRESS},
        )
    return address


def _check_local(local: str) -> None:
    if not local:
        raise ValidationError(_("The part before the @ is missing."), code="local_missing")
    if len(local) > MAX_LOCAL:
        raise ValidationError(
            _("The part before the @ is too long (at most %(max)d characters)."), code="local_too_long", params={"max": MAX_LOCAL}
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValidationError(
            _("The part before the @ cannot start or end with a dot or have two dots in a row."), code="local_dots"
        )
    if not local.isascii():
        # A mailbox such as 用户@… needs SMTPUTF8 at every hop, and our mail
        # path (a confirmation's To header, the digest's SMTP envelope) cannot
        # carry it: refuse the address now rather than lose the reader later.
        raise ValidationError(
            _(
                "We cannot deliver to an address with characters other than Latin letters, digits and "
                "punctuation before the @ (“%(local)s”). Please use another address, such as an ASCII "
                "alias your mail provider gives you; the domain after the @ may be in any script."
            ),
            code="local_not_ascii",
            params={"local": local},
        )
    for ch in local:
        # ASCII letters, digits and RFC 5322's unquoted punctuation. Quoted local
        # parts are legal but practically unused and a favourite of injection attempts.
        if ch.isalnum() or ch in LOCAL_SPECIALS:
            continue
        raise ValidationError(
            _("The part before the @ contains a character that is not allowed: “%(char)s”."),
            code="local_char",
            params={"char": ch},
        )


@functools.lru_cache(maxsize=4096)
def _domain_normalise(domain: str) -> str:
    # Cached: a list of 100,000 readers has a few hundred domains, and IDNA encoding is the slow part.
    if not domain:
        raise ValidationError(_("The domain after the @ is missing."), code="domain_missing")
    if domain.endswith("."):
        domain = domain[:-1]  # the DNS root dot is legal but never needed
    if "." not in domain:
        raise ValidationError(_("The domain after the @ needs a dot, such as example.com."), code="domain_no_dot")
    try:
        # IDNA 2003 as shipped with Python: lower-cases and punycodes each label.
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValidationError(_("The domain after the @ is not a valid domain name."), code="domain_invalid") from None
    labels = ascii_domain.split(".")
    for label in labels:
        if not label or len(label) > MAX_LABEL or label[0] == "-" or label[-1] == "-" or not set(label) <= LABEL_CHARS:
            raise ValidationError(_("The domain after the @ is not a valid domain name."), code="domain_invalid")
    if labels[-1].isdigit():
        raise ValidationError(_("The domain after the @ is not a valid domain name."), code="domain_invalid")
    return ascii_domain


def name_clean(raw: str | None) -> str:
    """A reader's display name, trimmed; raises ValidationError for line breaks or control characters."""
    value = (raw or "").strip()
    if len(value) > MAX_NAME:
        raise ValidationError(
            _("The name is too long (at most %(max)d characters)."), code="name_too_long", params={"max": MAX_NAME}
        )
    if _has_control(value) or "\u2028" in value or "\u2029" in value:
        # A line break in a name is a header-injection attempt (To: "x\r\nBcc: …").
        raise ValidationError(_("The name must be on one line, without control characters."), code="name_control")
    return value


def email_key(address: str) -> str:
    """The case-insensitive identity of a normalised address (what the unique constraint compares)."""
    return address.lower()


def language_normalise(raw: str | None) -> str | None:
    """The reader language (``zh-hans`` or ``en``) a code such as ``en-US``, ``zh_CN`` or ``zh-hans`` names; None otherwise."""
    code = (raw or "").strip().lower().replace("_", "-")
    if code == "en" or code.startswith("en-"):
        return "en"
    if code in ("zh", "zh-cn", "zh-sg") or code.startswith("zh-hans"):
        return "zh-hans"
    return None
