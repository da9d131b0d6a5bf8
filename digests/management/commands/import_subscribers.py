from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from digests.readers.csv_io import CsvImportError, subscribers_import


class Command(BaseCommand):
    help = (
        "Import subscribers from a CSV file with columns email,name,categories,timezone,language,frequency,weekly_day "
        "(categories: slugs separated by |; frequency: daily, weekly or both; weekly_day: mon … sun). New rows are pending and get a confirmation email, "
        "unless --confirmed says they opted in elsewhere."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--confirmed", action="store_true", help="The readers opted in elsewhere: import them as active.")

    def handle(self, *args, file: Path, confirmed: bool, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}") from None
        try:
            report = subscribers_import(data, confirmed=confirmed)
        except CsvImportError as exc:
            raise CommandError(f"{file}: {exc}") from None
        for note in report.errors:
            self.stderr.write(f"{file}: {note}")
        for note in report.skipped:
            self.stdout.write(_("skipped %(note)s") % {"note": note})
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "%(created)d imported, %(skipped)d skipped, %(errors)d with errors; %(confirmations)d confirmation emails queued."
                )
                % {
                    "created": len(report.created),
                    "skipped": len(report.skipped),
                    "errors": len(report.errors),
                    "confirmations": report.confirmations,
                }
            )
        )
        if report.errors:
            # Good rows are in; a non-zero exit still tells scripts to look at the bad ones.
            count = len(report.errors)
            raise CommandError(
                ngettext(
                    "%(count)d row could not be imported (listed above).",
                    "%(count)d rows could not be imported (listed above).",
                    count,
                )
                % {"count": count},
                returncode=2,
            )
