"""Subscriber CSV import and export: columns email, name, categories, timezone, language.

Categories are slugs separated by ``|`` (empty means every active category).
Files are UTF-8 with or without a byte-order mark; exports carry one so
spreadsheet programs read Chinese names correctly. An import never changes a
row that already exists, so running the same file twice changes nothing, and
it never brings back an unsubscribed or suppressed address.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from digests.models import Category, Consent, Subscriber
from digests.readers.confirmation import confirmation_request
from digests.readers.normalise import email_key, email_normalise, language_normalise, name_clean
from digests.readers.preferences import timezone_is_valid
from digests.readers.privacy import address_is_suppressed
from digests.readers.signup import subscriber_by_address
from digests.readers.status import subscriber_transition

COLUMNS = ["email", "name", "categories", "timezone", "language"]
# A cell starting with one of these is a formula to spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
IMPORT_WORDING = "Imported by the list owner, who stated the reader had opted in elsewhere (--confirmed)."


class CsvImportError(ValueError):
    """The file as a whole cannot be read (encoding, header)."""


@dataclass
class RowNote:
    line: int
    email: str
    reason: str

    def __str__(self) -> str:
        return _("line %(line)d: %(email)s: %(reason)s") % {"line": self.line, "email": self.email or "-", "reason": self.reason}


@dataclass
class ImportReport:
    created: list[RowNote] = field(default_factory=list)
    skipped: list[RowNote] = field(default_factory=list)
    errors: list[RowNote] = field(default_factory=list)
    confirmations: int = 0


@dataclass
class _Row:
    email: str
    name: str
    categories: list[Category]
    timezone: str
    language: str


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvImportError(
            _("The file is not UTF-8 text (first bad byte on line %(line)d). Save it as “CSV UTF-8” and try again.")
            % {"line": line}
        ) from None


def _unescape(value: str) -> str:
    if len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def _parse_row(values: dict[str, str], *, categories_by_slug: dict[str, Category], default_categories: list[Category]) -> _Row:
    email = email_normalise(values.get("email") or "")
    name = name_clean(_unescape(values.get("name") or ""))
    slugs = [s.strip() for s in (values.get("categories") or "").split("|") if s.strip()]
    unknown = [s for s in slugs if s not in categories_by_slug]
    if unknown:
        raise ValidationError(_("unknown category %(slugs)s") % {"slugs": ", ".join(f"“{s}”" for s in unknown)})
    timezone = (values.get("timezone") or "").strip()
    if timezone and not timezone_is_valid(timezone):
        raise ValidationError(_("unknown time zone “%(tz)s” (use an IANA name such as Asia/Shanghai)") % {"tz": timezone})
    raw_language = (values.get("language") or "").strip()
    language = language_normalise(raw_language)
    if raw_language and language is None:
        raise ValidationError(_("unknown language “%(lang)s” (use zh-hans or en)") % {"lang": raw_language})
    return _Row(
        email=email,
        name=name,
        categories=[categories_by_slug[s] for s in slugs] if slugs else list(default_categories),
        timezone=timezone,
        language=language or Subscriber.Language.ZH_HANS,
    )


def subscribers_import(data: bytes, *, confirmed: bool = False) -> ImportReport:
    """Import subscribers from CSV bytes; every row is reported as created, skipped or an error.

    New rows become pending and are sent a confirmation, or active with a
    consent record when ``confirmed`` says they opted in elsewhere. Raises
    CsvImportError when the file itself is unreadable.
    """
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CsvImportError(_("line 1: the header is not valid CSV (%(error)s)") % {"error": exc}) from None
    if not header:
        raise CsvImportError(
            _("The file is empty: the first line must name the columns (%(columns)s).") % {"columns": ",".join(COLUMNS)}
        )
    header = [h.strip().lower() for h in header]
    if "email" not in header:
        raise CsvImportError(
            _("line 1: there is no “email” column; the first line must name the columns (%(columns)s).")
            % {"columns": ",".join(COLUMNS)}
        )
    categories_by_slug = {c.slug: c for c in Category.objects.all()}
    default_categories = [c for c in categories_by_slug.values() if c.is_active]
    report = ImportReport()
    seen: dict[str, int] = {}
    previous_line = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.errors.append(RowNote(previous_line + 1, "", _("not valid CSV (%(error)s)") % {"error": exc}))
            break
        line, previous_line = previous_line + 1, reader.line_num
        if not any(f.strip() for f in fields):
            continue
        raw_email = (fields[header.index("email")] if len(fields) > header.index("email") else "").strip()
        if len(fields) > len(header):
            report.errors.append(
                RowNote(
                    line,
                    raw_email[:254],
                    _("%(found)d fields, but the header names %(expected)d") % {"found": len(fields), "expected": len(header)},
                )
            )
            continue
        values = dict(zip(header, fields, strict=False))  # short rows leave the last columns empty
        try:
            row = _parse_row(values, categories_by_slug=categories_by_slug, default_categories=default_categories)
        except ValidationError as exc:
            report.errors.append(RowNote(line, raw_email[:254], " ".join(exc.messages)))
            continue
        key = email_key(row.email)
        if key in seen:
            report.skipped.append(RowNote(line, row.email, _("duplicate of line %(line)d") % {"line": seen[key]}))
            continue
        seen[key] = line
        note = _import_one(row, line=line, confirmed=confirmed, report=report)
        if note:
            report.skipped.append(note)
    return report


def _import_one(row: _Row, *, line: int, confirmed: bool, report: ImportReport) -> RowNote | None:
    outcome = subscriber_import(
        email=row.email,
        name=row.name,
        categories=row.categories,
        timezone=row.timezone,
        language=row.language,
        confirmed=confirmed,
    )
    if isinstance(outcome, str):
        return RowNote(line, row.email, outcome)
    if outcome.status == Subscriber.Status.PENDING and outcome.confirmation_sent_at:
        report.confirmations += 1
    report.created.append(RowNote(line, row.email, outcome.status))
    return None


@transaction.atomic
def subscriber_import(
    *,
    email: str,
    name: str,
    categories: Iterable[Category],
    timezone: str,
    language: str,
    confirmed: bool,
    consent_form: str = "import",
    consent_wording: str = IMPORT_WORDING,
) -> Subscriber | str:
    """Add one reader the list owner brings (CSV import, the API): the new subscriber, or why not.

    An existing or suppressed address is never touched. A new reader is
    pending with a confirmation queued, or active with a consent record
    (``consent_form``, ``consent_wording``) when ``confirmed``.
    """
    existing = subscriber_by_address(email)
    if existing is not None:
        # Never reactivated, never edited: re-running a file must change nothing.
        return _("already on the list (%(status)s)") % {"status": existing.get_status_display()}
    if address_is_suppressed(email):
        return _("suppressed (erased or blocked address)")
    subscriber = Subscriber.objects.create(
        email=email,
        name=name,
        timezone=timezone,
        language=language,
        source=Subscriber.Source.IMPORT,
        status=Subscriber.Status.PENDING,
    )
    subscriber.categories.set(categories)
    if confirmed:
        subscriber_transition(subscriber, to=Subscriber.Status.ACTIVE)
        Consent.objects.create(subscriber=subscriber, form=consent_form, wording=consent_wording)
    else:
        confirmation_request(subscriber)
    return subscriber


def _escape(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def subscribers_export(subscribers: QuerySet[Subscriber] | Iterable[Subscriber], stream: io.TextIOBase) -> int:
    """Write ``subscribers`` as CSV (with a UTF-8 BOM) to ``stream``; the number of rows written."""
    stream.write("\ufeff")
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    if isinstance(subscribers, QuerySet):
        subscribers = subscribers.prefetch_related("categories").order_by("created_at", "id")
    count = 0
    for subscriber in subscribers:
        slugs = "|".join(c.slug for c in sorted(subscriber.categories.all(), key=lambda c: (c.position, c.pk)))
        writer.writerow([subscriber.email, _escape(subscriber.name), slugs, subscriber.timezone, subscriber.language])
        count += 1
    return count
