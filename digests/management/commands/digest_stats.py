from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from digests.content import digest_lookup
from digests.feedback.statistics import digest_category_clicks, digest_item_clicks, digest_stats
from digests.feedback.table import text_table
from digests.models import Digest


class Command(BaseCommand):
    help = "Print a digest's delivery statistics (the admin's Statistics page) as tables."

    def add_arguments(self, parser):
        parser.add_argument("digest", metavar="DATE_OR_ID", help="Issue date (YYYY-MM-DD) or digest id")

    def handle(self, *args, digest: str, **options):
        try:
            found = digest_lookup(digest)
        except Digest.DoesNotExist as exc:
            raise CommandError(str(exc) or f"No digest {digest!r}.") from None
        stats = digest_stats(found)
        rates = stats.rates()
        labels = [
            ("audience", _("Audience")),
            ("sent", _("Sent")),
            ("delivered", _("Delivered")),
            ("bounced_hard", _("Bounced (hard)")),
            ("bounced_soft", _("Bounced (soft)")),
            ("complained", _("Complaints")),
            ("unsubscribed", _("Unsubscribes")),
            ("unique_opens", _("Unique opens (approximate)")),
            ("unique_clicks", _("Unique clicks")),
        ]
        rows = [(label, getattr(stats, key), rates[key] if key in rates else "") for key, label in labels]
        out = [f"{found}  [{found.get_status_display()}]", "", text_table((_("Measure"), _("Readers"), _("Rate")), rows), ""]
        out.append(
            _("Rates of complaints, unsubscribes, opens and clicks are of delivered messages.")
            if stats.delivered_known
            else _("No delivery reports were received; rates are of sent messages.")
        )
        out.append(_("Opens are approximate: privacy proxies pre-fetch images and some mail apps block them."))
        categories = digest_category_clicks(found)
        out += ["", text_table((_("Category"), _("Unique readers"), _("Clicks")), [(c.label, c.unique_readers, c.clicks) for c in categories])]
        items = digest_item_clicks(found)
        out += ["", text_table((_("Item"), _("Unique readers"), _("Clicks")), [(i.label, i.unique_readers, i.clicks) for i in items])]
        self.stdout.write("\n".join(out))
