from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from digests.content.digest_format import DigestFormatError, digest_parse
from digests.content.services import digest_file_size_error, digest_import, problems_shown
from digests.delivery.autopilot import digest_autopilot


class Command(BaseCommand):
    help = "Import a digest from a Markdown file in the seed format (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--replace", action="store_true", help="Replace the items of an existing digest for that date.")
        parser.add_argument(
            "--schedule", action="store_true", help="Hand the digest to the autopilot (DIGEST_AUTOPILOT review or on)."
        )

    def handle(self, *args, path: Path, replace: bool, schedule: bool = False, **options):
        try:
            too_large = digest_file_size_error(path.stat().st_size)
            if too_large:
                raise CommandError(f"{path}: {too_large}")
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(_("%(path)s: cannot read file (%(error)s)") % {"path": path, "error": exc.strerror}) from None
        try:
            digest = digest_import(digest_parse(data), replace=replace)
        except DigestFormatError as exc:
            shown, more = problems_shown(exc.problems)
            lines = [_("%(path)s: not imported, nothing changed.") % {"path": path}]
            lines += [f"{path}:{p.line}: {p.message}" for p in shown]
            if more:
                lines.append(ngettext("… and %(n)d more problem.", "… and %(n)d more problems.", more) % {"n": more})
            raise CommandError("\n".join(lines)) from None
        if schedule:
            digest = digest_autopilot(digest)
        admin_url = settings.SITE_URL + reverse("admin:digests_digest_change", args=[digest.pk])
        count = digest.items.count()
        self.stdout.write(
            ngettext(
                "Imported digest %(id)s: %(digest)s with %(count)d item",
                "Imported digest %(id)s: %(digest)s with %(count)d items",
                count,
            )
            % {"id": digest.pk, "digest": digest, "count": count}
        )
        self.stdout.write(f"id: {digest.pk}")
        self.stdout.write(f"admin: {admin_url}")
        if schedule:
            self.stdout.write(_autopilot_line(digest))


def _autopilot_line(digest) -> str:
    if settings.DIGEST_AUTOPILOT == "off":
        return _("autopilot: off (DIGEST_AUTOPILOT), the digest stays a draft")
    if digest.autopilot == digest.Autopilot.HELD:
        return _("autopilot: held: %(reason)s") % {"reason": digest.autopilot_note}
    return _("autopilot: %(state)s, send at %(at)s") % {
        "state": digest.get_autopilot_display(),
        "at": timezone.localtime(digest.scheduled_at).strftime("%Y-%m-%d %H:%M %Z"),
    }
