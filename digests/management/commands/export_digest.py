from django.core.management.base import BaseCommand, CommandError

from digests.content import digest_export, digest_lookup
from digests.models import Digest


class Command(BaseCommand):
    help = "Print a digest in the Markdown seed format."

    def add_arguments(self, parser):
        parser.add_argument("digest", metavar="DATE_OR_ID", help="Issue date (YYYY-MM-DD) or digest id")

    def handle(self, *args, digest: str, **options):
        try:
            found = digest_lookup(digest)
        except Digest.DoesNotExist as exc:
            raise CommandError(str(exc) or f"No digest {digest!r}.") from None
        self.stdout.write(digest_export(found), ending="")
