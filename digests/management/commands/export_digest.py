from django.core.management.base import BaseCommand

from digests.content.services import digest_export
from digests.management.arguments import add_digest_argument, digest_from_argument


class Command(BaseCommand):
    help = "Print a digest in the Markdown seed format."

    def add_arguments(self, parser):
        add_digest_argument(parser)

    def handle(self, *args, digest: str, **options):
        found = digest_from_argument(digest)
        self.stdout.write(digest_export(found), ending="")
