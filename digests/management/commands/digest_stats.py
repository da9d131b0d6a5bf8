from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from digests.feedback.statistics import digest_category_clicks, digest_item_clicks, digest_stats
from digests.feedback.table import text_table
from digests.management.arguments import add_digest_argument, digest_from_argument


class Command(BaseCommand):
    help = "Print a digest's delivery statistics (the admin's Statistics page) as tables."

    def add_arguments(self, parser):
        add_digest_argument(parser)

    def handle(self, *args, digest: str, **options):
        found = digest_from_argument(digest)
        stats = digest_stats(found)
        rows = [(label, value, "" if rate is None else rate) for label, value, rate in stats.rows()]
        out = [
            f"{found}  [{found.get_edition_display()} · {found.get_status_display()}]",
            "",
            text_table((_("Measure"), _("Readers"), _("Rate")), rows),
            "",
        ]
        out.append(
            _("Rates of complaints, unsubscribes, opens and clicks are of delivered messages.")
            if stats.delivered_known
            else _("No delivery reports were received; rates are of sent messages.")
        )
        out.append(_("Opens are approximate: privacy proxies pre-fetch images and some mail apps block them."))
        categories = digest_category_clicks(found)
        out += [
            "",
            text_table(
                (_("Category"), _("Unique readers"), _("Clicks")), [(c.label, c.unique_readers, c.clicks) for c in categories]
            ),
        ]
        items = digest_item_clicks(found)
        out += [
            "",
            text_table((_("Item"), _("Unique readers"), _("Clicks")), [(i.label, i.unique_readers, i.clicks) for i in items]),
        ]
        self.stdout.write("\n".join(out))
