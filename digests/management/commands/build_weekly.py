import datetime

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils.translation import gettext as _

from digests.content.weekly import WeeklyBuildError, weekly_build, weekly_section_counts
from digests.links import site_url


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(_("%(value)r is not a date (YYYY-MM-DD).") % {"value": value}) from None


class Command(BaseCommand):
    help = (
        "Build the draft weekly edition from the dailies sent in the seven days ending on END_DATE: "
        "per category the week's leads, the highlights, then the first items up to WEEKLY_ITEMS_PER_CATEGORY."
    )

    def add_arguments(self, parser):
        parser.add_argument("end_date", metavar="END_DATE", help="The last day the weekly covers (YYYY-MM-DD).")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Rebuild the weekly draft of that week if there is one (never a scheduled or sent one).",
        )

    def handle(self, *args, end_date: str, replace: bool = False, **options):
        try:
            digest = weekly_build(_date(end_date), replace=replace)
        except WeeklyBuildError as exc:
            raise CommandError(str(exc)) from None
        counts = weekly_section_counts(digest)
        lines = [
            _("Built the draft weekly edition “%(digest)s” (id %(id)s) with %(count)d items:")
            % {"digest": digest, "id": digest.pk, "count": sum(n for _name, n in counts)}
        ]
        lines += [f"  {name}: {count}" for name, count in counts]
        lines.append(
            _("Edit it in the admin: %(url)s") % {"url": site_url(reverse("admin:digests_digest_change", args=[digest.pk]))}
        )
        self.stdout.write("\n".join(lines))
