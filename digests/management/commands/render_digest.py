from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from digests.management.arguments import add_digest_argument, digest_from_argument
from digests.models import Category
from digests.rendering.inline import variant_inlined


class Command(BaseCommand):
    help = "Write the exact HTML (or plain text) a reader of the given categories would receive, with placeholder links."

    def add_arguments(self, parser):
        add_digest_argument(parser)
        parser.add_argument("--categories", metavar="SLUG,SLUG", help="Category slugs the reader chose (default: all)")
        parser.add_argument("--text", action="store_true", help="Write the plain-text part instead of the HTML")
        parser.add_argument("--language", metavar="CODE", help="Language of the email's fixed text, e.g. zh-hans or en")
        parser.add_argument("--output", metavar="FILE", help="Write to FILE instead of standard output")

    def handle(self, *args, digest: str, categories: str | None, text: bool, language: str | None, output: str | None, **options):
        found = digest_from_argument(digest)
        category_ids = _category_ids(categories) if categories else None
        rendered = variant_inlined(found, category_ids, language=language)
        if rendered is None:
            raise CommandError(f"The digest of {found.issue_date.isoformat()} has no items in the categories {categories}; such a reader gets no email.")
        body = rendered.text if text else rendered.html
        if output:
            Path(output).write_text(body, encoding="utf-8")
            self.stderr.write(f"Wrote {len(body.encode('utf-8'))} bytes to {output}.")
        else:
            self.stdout.write(body, ending="")


def _category_ids(slugs: str) -> frozenset[int]:
    wanted = [slug.strip() for slug in slugs.split(",") if slug.strip()]
    found = dict(Category.objects.filter(slug__in=wanted).values_list("slug", "pk"))
    unknown = [slug for slug in wanted if slug not in found]
    if unknown:
        known = ", ".join(Category.objects.values_list("slug", flat=True))
        raise CommandError(f"Unknown category slug(s): {', '.join(unknown)}. Known slugs: {known}.")
    return frozenset(found.values())
