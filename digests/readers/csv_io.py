"""Subscriber CSV import and export: columns email, name, categories, timezone, language, frequency, weekly_day.

Categories are slugs separated by ``|`` (empty means every active category).
Frequency is daily, weekly or both and weekly_day mon … sun (or 周一 … 周日);
left out or empty they mean daily and Saturday.
Files are UTF-8 with or without a byte-order mark; exports carry one so
spreadsheet programs read Chinese names correctly. An import never changes a
row that already exists, so running the same file twice changes nothing, and
it never brings back an unsubscribed or suppressed address.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone as django_timezone
from django.utils.translation import gettext as _

from digests.models import Category, Subscriber
from digests.readers.bulk_insert import SUPPRESSED, NewReader, subscriber_of, subscribers_insert
from digests.readers.confirmation import confirmation_request_new
from digests.readers.frequency import FrequencyError, frequency_normalise, weekday_normalise
from digests.readers.normalise import email_key, email_normalise, language_normalise, name_clean
from digests.readers.preferences import timezone_is_valid
from digests.readers.signup import subscriber_by_address
from digests.readers.status import new_subscriber_fields, subscribers_announce_confirmed

COLUMNS = ["email", "name", "categories", "timezone", "language", "frequency", "weekly_day"]
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


def _parse_row(
    values: dict[str, str], *, categories_by_slug: dict[str, Category], default_categories: list[Category]
) -> NewReader:
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
    how_often = {}
    for column, normalise in (("frequency", frequency_normalise), ("weekly_day", weekday_normalise)):
        raw = (values.get(column) or "").strip()
        if raw:
            try:
                how_often[column] = normalise(raw)
            except FrequencyError as exc:
                raise ValidationError(_("column %(column)s: %(problem)s") % {"column": column, "problem": exc}) from None
    return NewReader(
        email=email,
        name=name,
        categories=[categories_by_slug[s] for s in slugs] if slugs else list(default_categories),
        timezone=timezone,
        language=language or Subscriber.Language.ZH_HANS,
        **how_often,
    )


IMPORT_CHUNK = 2000


def subscribers_import(data: bytes, *, confirmed: bool = False, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import subscribers from CSV bytes; every row is reported as created, skipped or an error.

    New rows become pending and are sent a confirmation, or active with a
    consent record when ``confirmed`` says they opted in elsewhere. Raises
    CsvImportError when the file itself is unreadable. Rows are validated one
    by one and written in chunks: a handful of queries per chunk, not per row.
    ``progress(line)`` is told the last line written after every chunk.
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
    chunks = _chunks_parsed(
        reader, header, categories_by_slug=categories_by_slug, default_categories=default_categories, notes=report
    )
    for rows, last_line in chunks:
        if rows:
            _import_chunk(rows, confirmed=confirmed, report=report)
        if progress:
            progress(last_line)
    for notes in (report.created, report.skipped):
        notes.sort(key=lambda note: note.line)
    return report


def _chunks_parsed(
    reader,
    header: list[str],
    *,
    categories_by_slug: dict[str, Category],
    default_categories: list[Category],
    notes: ImportReport,
) -> Iterator[tuple[list[tuple[int, NewReader]], int]]:
    """The file's valid, first-seen rows, IMPORT_CHUNK at a time with the last line read; the last chunk
    (perhaps empty) ends at the file's end. Errors and duplicates go to ``notes``."""
    seen: dict[str, int] = {}
    pending: list[tuple[int, NewReader]] = []
    email_at = header.index("email")
    previous_line = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            notes.errors.append(RowNote(previous_line + 1, "", _("not valid CSV (%(error)s)") % {"error": exc}))
            break
        line, previous_line = previous_line + 1, reader.line_num
        if not any(f.strip() for f in fields):
            continue
        raw_email = (fields[email_at] if len(fields) > email_at else "").strip()
        if len(fields) > len(header):
            found = {"found": len(fields), "expected": len(header)}
            notes.errors.append(RowNote(line, raw_email[:254], _("%(found)d fields, but the header names %(expected)d") % found))
            continue
        values = dict(zip(header, fields, strict=False))  # short rows leave the last columns empty
        try:
            row = _parse_row(values, categories_by_slug=categories_by_slug, default_categories=default_categories)
        except ValidationError as exc:
            notes.errors.append(RowNote(line, raw_email[:254], " ".join(exc.messages)))
            continue
        key = email_key(row.email)
        if key in seen:
            notes.skipped.append(RowNote(line, row.email, _("duplicate of line %(line)d") % {"line": seen[key]}))
            continue
        seen[key] = line
        pending.append((line, row))
        if len(pending) >= IMPORT_CHUNK:
            yield pending, line
            pending = []
    yield pending, previous_line


def _import_chunk(
    rows: list[tuple[int, NewReader]],
    *,
    confirmed: bool,
    report: ImportReport,
    consent_form: str = "import",
    consent_wording: str = IMPORT_WORDING,
) -> None:
    """Write a chunk of valid rows in one transaction; on a clash with a concurrent signup, one row at a time."""
    try:
        with transaction.atomic():
            outcome = _create_chunk(rows, confirmed=confirmed, consent_form=consent_form, consent_wording=consent_wording)
    except IntegrityError:
        # Someone signed up with one of these addresses since we looked.
        if len(rows) == 1:
            line, row = rows[0]
            existing = subscriber_by_address(row.email)
            status = existing.get_status_display() if existing else "?"
            report.skipped.append(RowNote(line, row.email, _("already on the list (%(status)s)") % {"status": status}))
            return
        for one in rows:
            _import_chunk([one], confirmed=confirmed, report=report, consent_form=consent_form, consent_wording=consent_wording)
        return
    report.created += outcome.created
    report.skipped += outcome.skipped
    report.confirmations += outcome.confirmations


def _create_chunk(rows: list[tuple[int, NewReader]], *, confirmed: bool, consent_form: str, consent_wording: str) -> ImportReport:
    outcome = ImportReport()
    readers = [row for _line, row in rows]
    now = django_timezone.now()
    fields = new_subscriber_fields(confirmed=confirmed, now=now)
    if not confirmed:
        fields["confirmation_sent_at"] = now  # stamped as written: nobody else can have asked for one yet
    consent = {"form": consent_form, "wording": consent_wording} if confirmed else None
    refused = subscribers_insert(readers, fields=fields, consent=consent)
    status_names = dict(Subscriber.Status.choices)
    for index, (line, row) in enumerate(rows):
        if index not in refused:
            outcome.created.append(RowNote(line, row.email, fields["status"]))
        elif refused[index] == SUPPRESSED:
            outcome.skipped.append(RowNote(line, row.email, _("suppressed (erased or blocked address)")))
        else:
            # Never reactivated, never edited: re-running a file must change nothing.
            note = _("already on the list (%(status)s)") % {"status": status_names[refused[index]]}
            outcome.skipped.append(RowNote(line, row.email, note))
    written = [reader for reader in readers if reader.pk is not None]
    if confirmed:
        subscribers_announce_confirmed((subscriber_of(reader, fields) for reader in written), now=now)
    else:
        for reader in written:
            confirmation_request_new(subscriber_of(reader, fields))
        outcome.confirmations = len(written)
    return outcome


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
    frequency: str | None = None,
    weekly_day: str | None = None,
) -> Subscriber | str:
    """Add one reader the list owner brings (the API): the new subscriber, or why not.

    The same rules as a CSV row: an existing or suppressed address is never
    touched; a new reader is pending with a confirmation queued, or active
    with a consent record (``consent_form``, ``consent_wording``) when ``confirmed``.
    """
    row = NewReader(email=email, name=name, categories=list(categories), timezone=timezone, language=language)
    if frequency:
        row.frequency = frequency_normalise(frequency)
    if weekly_day:
        row.weekly_day = weekday_normalise(weekly_day)
    report = ImportReport()
    _import_chunk([(1, row)], confirmed=confirmed, report=report, consent_form=consent_form, consent_wording=consent_wording)
    if report.skipped:
        return report.skipped[0].reason
    return subscriber_by_address(email)


def _escape(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def subscribers_export(subscribers: QuerySet[Subscriber] | Iterable[Subscriber], stream: io.TextIOBase) -> int:
    """Write ``subscribers`` as CSV (with a UTF-8 BOM) to ``stream``; the number of rows written."""
    stream.write("\ufeff")
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    if isinstance(subscribers, QuerySet):
        # In chunks, categories prefetched per chunk: memory stays flat for a million readers.
        subscribers = subscribers.prefetch_related("categories").order_by("created_at", "id").iterator(chunk_size=2000)
    count = 0
    for subscriber in subscribers:
        slugs = "|".join(c.slug for c in sorted(subscriber.categories.all(), key=lambda c: (c.position, c.pk)))
        writer.writerow(
            [
                subscriber.email,
                _escape(subscriber.name),
                slugs,
                subscriber.timezone,
                subscriber.language,
                subscriber.frequency,
                subscriber.weekly_day,
            ]
        )
        count += 1
    return count
