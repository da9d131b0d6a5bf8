from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from digests.content import digest_import
from digests.markdown import DigestFormatError, digest_parse


class Command(BaseCommand):
    help = "Import a digest from a Markdown file in the seed format (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--replace", action="store_true", help="Replace the items of an existing digest for that date.")

    def handle(self, *args, path: Path, replace: bool, **options):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: cannot read file ({exc.strerror})") from None
        try:
            digest = digest_import(digest_parse(data), replace=replace)
        except DigestFormatError as exc:
            raise CommandError(f"{path}: not imported, nothing changed.\n" + "\n".join(f"{path}:{p.line}: {p.message}" for p in exc.problems)) from None
        admin_url = settings.SITE_URL + reverse("admin:digests_digest_change", args=[digest.pk])
        self.stdout.write(f"Imported digest {digest.pk}: {digest} with {digest.items.count()} items")
        self.stdout.write(f"id: {digest.pk}")
        self.stdout.write(f"admin: {admin_url}")
