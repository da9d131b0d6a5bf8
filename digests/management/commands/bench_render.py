from django.core.management.base import BaseCommand, CommandError

from digests.bench.render import render_bench
from digests.content.services import digest_lookup
from digests.models import Digest


class Command(BaseCommand):
    help = "Benchmark rendering: per-variant inline time, per-reader personalisation rate, premailer calls."

    def add_arguments(self, parser):
        parser.add_argument("digest", nargs="?", metavar="DATE_OR_ID", help="Digest to render (default: the newest)")
        parser.add_argument("--readers", type=int, default=10_000, help="Reader copies to personalise (default 10000)")
        parser.add_argument("--variants", type=int, default=8, help="Distinct category sets to inline (default 8)")

    def handle(self, *args, digest: str | None, readers: int, variants: int, **options):
        if readers < 1 or variants < 1:
            raise CommandError("--readers and --variants must be at least 1.")
        try:
            found = digest_lookup(digest) if digest else Digest.objects.order_by("-issue_date")[:1].get()
        except Digest.DoesNotExist as exc:
            raise CommandError(str(exc) or "There is no digest to render; import one first (import_digest).") from None
        result = render_bench(found, readers=readers, variants=variants)
        self.stdout.write(f"Digest {found} · {result.variants} variants · {result.readers} readers")
        for index, seconds in enumerate(result.inline_seconds, start=1):
            self.stdout.write(f"  variant {index}: rendered and inlined in {seconds * 1000:.1f} ms")
        total = sum(result.inline_seconds)
        self.stdout.write(f"Inline: {total * 1000:.1f} ms total, {total / result.variants * 1000:.1f} ms per variant")
        self.stdout.write(
            f"Personalise: {result.personalise_per_second:,.0f} readers/s ({result.personalise_microseconds:.1f} µs per reader)"
        )
        self.stdout.write(f"premailer calls: {result.premailer_calls} (one per variant, none per reader)")
