"""Admin pieces of the feedback loop: delivery events, lifting bounce suppressions, statistics pages.

The subscriber and digest admins live in other modules; they take these in:
``lift_bounce_suppression`` (an action), ``suppression_summary`` (a read-only
field) and ``DeliveryEventInline`` for the subscriber admin, and
``DigestStatsAdminMixin`` as a base of the digest admin.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from digests.feedback.charts import category_clicks_svg, funnel_svg, growth_svg
from digests.feedback.statistics import (
    digest_category_clicks,
    digest_item_clicks,
    digest_stats,
    frequency_mix,
    list_growth,
)
from digests.feedback.suppression import SuppressionLiftRefused, subscriber_lift_bounce
from digests.models import DeliveryEvent, Subscriber


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(admin.ModelAdmin):
    """Read-only: events are evidence of what a provider said, never edited."""

    list_display = [
        "occurred_at",
        "event_type",
        "bounce_type",
        "provider",
        "subscriber",
        "delivery_digest",
        "item",
        "description_short",
    ]
    list_filter = ["event_type", "bounce_type", "provider", "occurred_at"]
    search_fields = ["subscriber__email", "event_id", "description", "url"]
    list_select_related = ["subscriber", "delivery__digest", "item"]
    date_hierarchy = "occurred_at"
    readonly_fields = ["payload_pretty"]
    exclude = ["payload"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("digest"), ordering="delivery__digest__issue_date")
    def delivery_digest(self, obj: DeliveryEvent):
        return obj.delivery.digest if obj.delivery else "—"

    @admin.display(description=_("description"))
    def description_short(self, obj: DeliveryEvent) -> str:
        return obj.description[:80]

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj: DeliveryEvent):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, ensure_ascii=False, indent=2))


class DeliveryEventInline(admin.TabularInline):
    """A reader's recent events, on the subscriber page."""

    model = DeliveryEvent
    fk_name = "subscriber"
    fields = ["occurred_at", "event_type", "bounce_type", "provider", "delivery", "description"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("delivery events")

    def has_add_permission(self, request, obj=None):
        return False


@admin.display(description=_("suppression"))
def suppression_summary(subscriber: Subscriber) -> str:
    """Why and when a reader stopped receiving mail, for the subscriber admin."""
    if not subscriber.suppressed_at:
        return "—"
    when = date_format(timezone.localtime(subscriber.suppressed_at), "DATETIME_FORMAT")
    return f"{subscriber.get_status_display()} · {when} · {subscriber.suppression_reason}"


@admin.action(description=_("Lift bounce suppression"), permissions=["change"])
def lift_bounce_suppression(modeladmin, request, queryset):
    """Make the selected bounced readers active again; complaints are refused, each with a message."""
    lifted = 0
    for subscriber in queryset:
        try:
            subscriber_lift_bounce(subscriber)
        except SuppressionLiftRefused as refusal:
            modeladmin.message_user(request, str(refusal), messages.WARNING)
            continue
        modeladmin.log_change(request, subscriber, [{"changed": {"fields": ["status"]}}])
        lifted += 1
    if lifted:
        modeladmin.message_user(
            request,
            ngettext(
                "Bounce suppression lifted for %(count)d reader.", "Bounce suppression lifted for %(count)d readers.", lifted
            )
            % {"count": lifted},
            messages.SUCCESS,
        )


class DigestStatsAdminMixin:
    """Adds <id>/stats/ (numbers and charts of one send) and growth/ (list growth) to the digest admin."""

    stats_template = "admin/digests/digest/stats.html"
    growth_template = "admin/digests/digest/growth.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("growth/", view(self.growth_view), name="%s_%s_growth" % info),
            path("<path:object_id>/stats/", view(self.stats_view), name="%s_%s_stats" % info),
            *super().get_urls(),
        ]

    def get_list_display(self, request):
        return [*super().get_list_display(request), "stats_link"]

    @admin.display(description=_("statistics"))
    def stats_link(self, obj):
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_stats", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Statistics"))

    def stats_view(self, request, object_id):
        digest = self.get_object(request, object_id)
        if digest is None:
            raise Http404(_("No digest with id %(id)s.") % {"id": object_id})
        if not self.has_view_permission(request, digest):
            raise PermissionDenied
        stats = digest_stats(digest)
        categories = digest_category_clicks(digest)
        rows = stats.rows()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": digest,
            "title": _("Statistics: %(digest)s") % {"digest": digest},
            "rows": rows,
            "stats": stats,
            "categories": categories,
            "items": digest_item_clicks(digest),
            # Built by our own chart code with every label escaped.
            "funnel_svg": mark_safe(funnel_svg(stats)),
            "category_svg": mark_safe(category_clicks_svg(categories)),
            "growth_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_growth"),
        }
        return TemplateResponse(request, self.stats_template, context)

    def growth_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = min(max(int(request.GET.get("days", 30)), 7), 366)
        except ValueError:
            days = 30
        growth = list_growth(days=days)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("List growth"),
            "days": days,
            "growth": growth,
            "totals": {
                "subscribes": sum(d.subscribes for d in growth),
                "confirmations": sum(d.confirmations for d in growth),
                "unsubscribes": sum(d.unsubscribes for d in growth),
            },
            "growth_svg": mark_safe(growth_svg(growth)),
            "frequency": frequency_mix(days=days),
        }
        return TemplateResponse(request, self.growth_template, context)
