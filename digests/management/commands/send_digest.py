from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from digests.content.services import TransitionError
from digests.delivery.schedule import StaleDigest, digest_age_days, digest_is_stale, digest_schedule, digest_start
from digests.management.arguments import add_digest_argument, digest_from_argument


class Command(BaseCommand):
    help = (
        "Schedule a digest (a daily for its morning, a weekly for each reader's weekday at that time in their zone) "
        "or start sending it now (--now). DIGEST is a date, weekly:<last day> or an id."
    )

    def add_arguments(self, parser):
        add_digest_argument(parser)
        parser.add_argument(
            "--now",
            action="store_true",
            help="Start sending at once, to every reader of its edition (a weekly's readers too, whatever their weekday).",
        )
        parser.add_argument("--allow-stale", action="store_true", help="Send even though the issue date is old.")

    def handle(self, *args, digest: str, now: bool, allow_stale: bool, **options):
        found = digest_from_argument(digest)
        try:
            if now:
                report = digest_start(found, immediate=True, allow_stale=allow_stale or found.allow_stale)
                self.stdout.write(
                    f"Sending {found}: {report.pending} readers, {report.skipped} skipped (no items in their categories)."
                )
            else:
                digest_schedule(found, at=found.scheduled_at, allow_stale=allow_stale)
                self.stdout.write(f"Scheduled {found} for {found.scheduled_at.isoformat()}.")
                starts = max(found.scheduled_at, timezone.now())  # a time already past starts at the next tick
                if not allow_stale and digest_is_stale(found, now=starts):
                    age = digest_age_days(found, now=starts)
                    self.stderr.write(
                        f"Warning: at that time the issue will be {age} days old, older than DIGEST_STALE_AFTER_DAYS "
                        f"({settings.DIGEST_STALE_AFTER_DAYS}) allows, and will not start: add --allow-stale to send it anyway."
                    )
        except StaleDigest as exc:
            raise CommandError(f"{exc}: pass --allow-stale to send it anyway.") from None
        except TransitionError as exc:
            raise CommandError(str(exc)) from None
