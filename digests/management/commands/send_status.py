import json as jsonlib

from django.core.management.base import BaseCommand

from digests.delivery.progress import digest_progress
from digests.management.arguments import add_digest_argument, digest_from_argument


class Command(BaseCommand):
    help = "Show how far a digest's send has got: counts, rate, ETA and failures."

    def add_arguments(self, parser):
        add_digest_argument(parser)
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")

    def handle(self, *args, digest: str, json: bool = False, **options):
        found = digest_from_argument(digest)
        progress = digest_progress(found)
        if json:
            self.stdout.write(_dumps(progress.as_dict()))
            return
        eta = "—" if progress.eta_seconds is None else f"{progress.eta_seconds}s"
        self.stdout.write(
            f"{found} — {found.get_status_display()} — {progress.percent}%\n"
            f"audience {progress.audience}  sent {progress.sent}  failed {progress.failed}  skipped {progress.skipped}  "
            f"pending {progress.pending}  sending {progress.sending}  cancelled {progress.cancelled + progress.suppressed}\n"
            f"rate {progress.rate_per_second}/s  ETA {eta}"
        )
        for failure in progress.failures:
            self.stdout.write(f"  failed {failure['email']}: {failure['error']}")


def _dumps(data) -> str:
    return jsonlib.dumps(data, ensure_ascii=False, indent=2)
