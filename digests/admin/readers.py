"""The subscriber admin: list, filters, actions, CSV import and export.

Status changes go through actions that call digests.readers services (the
status field itself is read-only), so the life cycle rules and the
withdrawal of pending deliveries apply here too.
"""

from __future__ import annotations

import io

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from digests.admin.feedback import DeliveryEventInline, lift_bounce_suppression, suppression_summary
from digests.admin.history import TranslatableHistoryMixin
from digests.models import Consent, FrequencyChange, Subscriber, SubscriberImport, Suppression
from digests.readers.confirmation import confirmation_request
from digests.readers.csv_io import CsvImportError, subscribers_export, subscribers_import
from digests.readers.frequency import subscriber_frequency_set
from digests.readers.imports import BACKGROUND_IMPORT_BYTES, import_report_json, subscriber_import_queue
from digests.readers.normalise import MAX_ADDRESS, email_normalise, name_clean
from digests.readers.privacy import erased_repr, subscriber_erase
from digests.readers.signup import subscriber_by_address
from digests.readers.unsubscribe import subscriber_unsubscribe

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class SubscriberAdminForm(forms.ModelForm):
    # A plain text field: the model's EmailField would answer a generic "Enter a
    # valid email address." before clean_email() can say what is wrong.
    email = forms.CharField(label=_("email address"), max_length=MAX_ADDRESS, strip=False)

    class Meta:
        model = Subscriber
        fields = ["email", "name", "categories", "timezone", "language", "frequency", "weekly_day"]
        widgets = {"categories": forms.CheckboxSelectMultiple}

    def clean_email(self):
        address = email_normalise(self.cleaned_data.get("email") or "")
        existing = subscriber_by_address(address)
        if existing is not None and existing.pk != self.instance.pk:
            raise ValidationError(_("A subscriber with this address already exists."), code="duplicate")
        return address

    def clean_name(self):
        return name_clean(self.cleaned_data.get("name"))

    def clean_timezone(self):
        from digests.readers.preferences import timezone_is_valid

        value = (self.cleaned_data.get("timezone") or "").strip()
        if value and not timezone_is_valid(value):
            raise ValidationError(_("Unknown time zone; use an IANA name such as Asia/Shanghai."), code="timezone")
        return value


class SubscriberImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, columns email,name,categories,timezone,language,frequency,weekly_day; categories are slugs separated by |; "
            "frequency is daily, weekly or both, weekly_day mon … sun (optional: daily and Saturday)."
        ),
    )
    confirmed = forms.BooleanField(
        label=_("These readers opted in elsewhere"),
        required=False,
        help_text=_("Import them as active. Otherwise they are pending and get a confirmation email."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(_("The file is larger than 20 MB; split it and import the parts."), code="too_big")
        return upload


class FrequencyChangeInline(admin.TabularInline):
    model = FrequencyChange
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["created_at", "old", "new", "via"]
    readonly_fields = fields


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["created_at", "form", "ip_hash", "wording"]
    readonly_fields = fields


@admin.register(Subscriber)
class SubscriberAdmin(TranslatableHistoryMixin, admin.ModelAdmin):
    form = SubscriberAdminForm
    list_display = [
        "email",
        "name",
        "status",
        "category_list",
        "source",
        "language",
        "frequency",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
    ]
    list_filter = ["status", "frequency", "categories", "source", "language"]
    search_fields = ["email", "name"]
    date_hierarchy = "created_at"
    list_per_page = 100
    inlines = [ConsentInline]
    actions = [
        "unsubscribe_selected",
        "send_confirmation",
        "set_frequency_daily",
        "set_frequency_weekly",
        "set_frequency_both",
        lift_bounce_suppression,
        "export_selected",
        "erase_selected",
    ]
    change_list_template = "admin/digests/subscriber/change_list.html"
    readonly_fields = [
        "status",
        "source",
        "created_at",
        "updated_at",
        "confirmed_at",
        "unsubscribed_at",
        "confirmation_sent_at",
        "suppressed_at",
        "suppression_reason",
        "soft_bounces",
        "suppression",
    ]
    fieldsets = [
        (None, {"fields": ["email", "name", "categories", "timezone", "language"]}),
        (_("How often"), {"fields": ["frequency", "weekly_day"]}),
        (
            _("Status"),
            {
                "fields": [
                    "status",
                    "source",
                    "created_at",
                    "updated_at",
                    "confirmed_at",
                    "unsubscribed_at",
                    "confirmation_sent_at",
                ]
            },
        ),
        (_("Suppression"), {"fields": ["suppression", "suppressed_at", "suppression_reason", "soft_bounces"]}),
    ]
    formfield_overrides = {models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple}}

    def get_inlines(self, request, obj):
        # Events exist only for a reader who has been mailed.
        return [ConsentInline, FrequencyChangeInline, DeliveryEventInline] if obj else [ConsentInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("categories")

    @admin.display(description=_("why and when suppressed"))
    def suppression(self, obj: Subscriber) -> str:
        return suppression_summary(obj)

    @admin.display(description=_("categories"))
    def category_list(self, obj: Subscriber) -> str:
        return ", ".join(c.name for c in obj.categories.all())

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if "@" in search_term:
            # Readers type IDN domains in Unicode; the list stores them punycoded.
            try:
                address = email_normalise(search_term)
            except ValidationError:
                return results, may_have_duplicates
            results = results | queryset.filter(email__iexact=address)
        return results, may_have_duplicates

    def save_model(self, request, obj, form, change):
        if not change:
            # A new reader's first frequency is a choice, not a move: saved as is.
            obj.source = Subscriber.Source.ADMIN
            super().save_model(request, obj, form, change)
            return
        frequency, weekly_day = obj.frequency, obj.weekly_day
        obj.frequency = form.initial.get("frequency", frequency)
        super().save_model(request, obj, form, change)
        subscriber_frequency_set(obj, frequency=frequency, weekly_day=weekly_day, via=FrequencyChange.Via.ADMIN)

    def _set_frequency(self, request, queryset, frequency: str) -> None:
        count = 0
        label = Subscriber.Frequency(frequency).label
        for subscriber in queryset:
            if subscriber_frequency_set(subscriber, frequency=frequency, via=FrequencyChange.Via.ADMIN):
                self.log_change(
                    request, subscriber, gettext("Frequency set to %(frequency)s by an admin action.") % {"frequency": label}
                )
                count += 1
        self.message_user(
            request,
            ngettext("%(count)d subscriber now gets: %(frequency)s.", "%(count)d subscribers now get: %(frequency)s.", count)
            % {"count": count, "frequency": label},
        )

    @admin.action(description=_("Set frequency to daily"), permissions=["change"])
    def set_frequency_daily(self, request, queryset):
        self._set_frequency(request, queryset, Subscriber.Frequency.DAILY)

    @admin.action(description=_("Set frequency to weekly"), permissions=["change"])
    def set_frequency_weekly(self, request, queryset):
        self._set_frequency(request, queryset, Subscriber.Frequency.WEEKLY)

    @admin.action(description=_("Set frequency to daily and weekly"), permissions=["change"])
    def set_frequency_both(self, request, queryset):
        self._set_frequency(request, queryset, Subscriber.Frequency.BOTH)

    # --- actions -----------------------------------------------------------

    @admin.action(description=_("Unsubscribe selected subscribers"), permissions=["change"])
    def unsubscribe_selected(self, request, queryset):
        count = 0
        for subscriber in queryset:
            if subscriber_unsubscribe(subscriber, reason=f"unsubscribed by {request.user}"):
                self.log_change(request, subscriber, gettext("Unsubscribed by an admin action."))
                count += 1
        self.message_user(request, ngettext("%d subscriber unsubscribed.", "%d subscribers unsubscribed.", count) % count)

    @admin.action(description=_("Send a confirmation email to selected pending subscribers"), permissions=["change"])
    def send_confirmation(self, request, queryset):
        count = 0
        for subscriber in queryset.filter(status=Subscriber.Status.PENDING):
            if confirmation_request(subscriber):
                self.log_change(request, subscriber, gettext("Confirmation email sent by an admin action."))
                count += 1
        self.message_user(
            request,
            ngettext("%d confirmation email queued", "%d confirmation emails queued", count) % count
            + " "
            + str(_("(at most one per reader per hour; active and unsubscribed readers are skipped).")),
        )

    @admin.action(description=_("Export selected subscribers as CSV"), permissions=["view"])
    def export_selected(self, request, queryset):
        return self._csv_response(queryset)

    @admin.action(description=_("Erase selected subscribers and their history (privacy)"), permissions=["delete"])
    def erase_selected(self, request, queryset):
        if request.POST.get("post") == "yes":
            count = 0
            for subscriber in queryset:
                pk = subscriber.pk
                subscriber_erase(subscriber, reason="erased")
                LogEntry.objects.create(
                    user_id=request.user.pk,
                    content_type_id=ContentType.objects.get_for_model(Subscriber).pk,
                    object_id=str(pk),
                    object_repr=erased_repr(pk),
                    action_flag=DELETION,
                    change_message=gettext("Erased with their delivery history (privacy)."),
                )
                count += 1
            self.message_user(
                request,
                ngettext(
                    "%d subscriber erased; the address is kept only as a hash so it cannot be re-imported.",
                    "%d subscribers erased; the addresses are kept only as hashes so they cannot be re-imported.",
                    count,
                )
                % count,
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase subscribers"),
            "opts": self.model._meta,
            "subscribers": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/digests/subscriber/erase_confirm.html", context)

    # --- import and export pages -------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="digests_subscriber_import"),
            path("import/<int:import_id>/", view(self.import_progress_view), name="digests_subscriber_import_progress"),
            path("export/", view(self.export_view), name="digests_subscriber_export"),
        ] + super().get_urls()

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        report = None
        form = SubscriberImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload, confirmed = form.cleaned_data["file"], form.cleaned_data["confirmed"]
            if upload.size > BACKGROUND_IMPORT_BYTES:
                job = subscriber_import_queue(
                    data=upload.read(), confirmed=confirmed, language=translation.get_language(), user=request.user
                )
                return HttpResponseRedirect(reverse("admin:digests_subscriber_import_progress", args=[job.pk]))
            try:
                report = import_report_json(subscribers_import(upload.read(), confirmed=confirmed))
            except CsvImportError as exc:
                form.add_error("file", str(exc))
            else:
                self._report_message(request, report)
        return self._import_page(request, form=form, report=report)

    def import_progress_view(self, request, import_id: int):
        if not self.has_add_permission(request):
            raise PermissionDenied
        job = get_object_or_404(SubscriberImport, pk=import_id)
        report = job.report if job.status == SubscriberImport.Status.DONE else None
        return self._import_page(request, form=SubscriberImportForm(), report=report, job=job)

    def _report_message(self, request, report: dict) -> None:
        errors, skipped = len(report["errors"]), len(report["skipped"])
        self.message_user(
            request,
            _("%(created)d imported, %(skipped)d skipped, %(errors)d with errors.")
            % {"created": report["created"], "skipped": skipped, "errors": errors},
            messages.WARNING if errors else messages.SUCCESS,
        )

    def _import_page(self, request, *, form, report, job=None):
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import subscribers"),
            "opts": self.model._meta,
            "form": form,
            "report": report,
            "job": job,
            "percent": int(100 * job.processed / job.lines) if job and job.lines else 0,
            "changelist_url": reverse("admin:digests_subscriber_changelist"),
        }
        return TemplateResponse(request, "admin/digests/subscriber/import.html", context)

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        # The list's current filters and search apply to the export.
        changelist = self.get_changelist_instance(request)
        return self._csv_response(changelist.get_queryset(request))

    def _csv_response(self, queryset) -> HttpResponse:
        buffer = io.StringIO()
        subscribers_export(queryset, buffer)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        filename = f"subscribers-{timezone.localdate():%Y-%m-%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@admin.register(Suppression)
class SuppressionAdmin(TranslatableHistoryMixin, admin.ModelAdmin):
    list_display = ["email_hash", "reason", "created_at"]
    list_filter = ["reason"]
    readonly_fields = ["email_hash", "reason", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
