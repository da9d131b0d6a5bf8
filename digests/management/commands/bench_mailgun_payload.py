from django.core.management.base import BaseCommand, CommandError

from digests.bench.mailgun_payload import batch_items, payload_timed
from digests.models import Digest


class Command(BaseCommand):
    help = "Benchmark one Mailgun batch call's CPU before the wire (message, payload, encoded body), per backend."

    def add_arguments(self, parser):
        parser.add_argument("--readers", type=int, default=1000, help="Readers in the call (default 1000, Mailgun's limit)")
        parser.add_argument(
            "--backend",
            action="append",
            help="Dotted path of an anymail Mailgun backend (repeatable; default: anymail's own, then ours)",
        )

    def handle(self, *args, readers: int, backend=None, **options):
        digest = Digest.objects.order_by("-issue_date").first()
        if digest is None:
            raise CommandError("There is no digest; import one first (import_digest).")
        items = batch_items(digest, readers=readers)
        for path in backend or ["anymail.backends.mailgun.EmailBackend", "digests.mail.mailgun.EmailBackend"]:
            self.stdout.write(str(payload_timed(path, items)))
