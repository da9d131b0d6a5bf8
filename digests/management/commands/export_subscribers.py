import io

from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from digests.models import Subscriber
from digests.readers.csv_io import subscribers_export


class Command(BaseCommand):
    help = "Export subscribers as CSV (email,name,categories,timezone,language,frequency,weekly_day), the format import_subscribers reads."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")
        parser.add_argument(
            "--status",
            action="append",
            choices=Subscriber.Status.values,
            help="Only readers with this status (repeatable; default: active only).",
        )
        parser.add_argument("--all", action="store_true", help="Every reader, whatever their status.")

    def handle(self, *args, output, status, all, **options):
        readers = Subscriber.objects.all()
        if not all:
            readers = readers.filter(status__in=status or [Subscriber.Status.ACTIVE])
        if output:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                count = subscribers_export(readers, stream)
            self.stderr.write(
                ngettext("%(count)d subscriber written to %(file)s", "%(count)d subscribers written to %(file)s", count)
                % {"count": count, "file": output}
            )
        else:
            buffer = io.StringIO()
            subscribers_export(readers, buffer)
            self.stdout.write(buffer.getvalue(), ending="")
