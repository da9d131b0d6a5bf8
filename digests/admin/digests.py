"""The editorial admin: categories, digests with their items, Markdown import/export, preview.

Editors compose, import, preview and export; nothing here schedules or sends.
The send time is only ever set on the sending page (``digest_schedule``): the
change form shows it, read-only, with a link there. A digest that is sending
or sent is read-only for everyone.
"""

from __future__ import annotations

import datetime
import io
import zipfile

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from digests.admin.automation import DigestAutopilotAdminMixin
from digests.admin.digest_forms import DigestForm, DuplicateForm, ItemForm, MarkdownImportForm, WeeklyBuildForm
from digests.admin.feedback import DigestStatsAdminMixin
from digests.admin.history import TranslatableHistoryMixin
from digests.admin.preview import preview_html
from digests.admin.sending import DigestSendingAdminMixin, TestSendForm
from digests.admin.times import time_label
from digests.content.digest_format import DigestFormatError, digest_parse
from digests.content.ordering import items_by_section, section_rank
from digests.content.services import DigestDateTaken, digest_duplicate, digest_export, digest_import
from digests.content.weekly import SOURCE_STATUSES, WeeklyBuildError, weekly_build
from digests.models import Category, Digest, Item, Subscriber
from digests.rendering.presend import digest_check
from digests.rendering.render import PREHEADER_MAX_CHARS, SUBJECT_MAX_COLUMNS, digest_subject, variant_preheader
from digests.rendering.sections import digest_content

MARKDOWN_CONTENT_TYPE = "text/markdown; charset=utf-8"
# The preview shows editor-written content: no scripts, no requests except images and styles inline.
PREVIEW_CSP = "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; frame-ancestors 'self'"


def _preview_categories(request: HttpRequest) -> frozenset[int] | None:
    ids = frozenset(int(value) for value in request.GET.getlist("categories") if value.isdigit())
    return ids or None


def markdown_filename(digest: Digest) -> str:
    kind = "weekly" if digest.is_weekly else "digest"
    return f"{kind}-{digest.issue_date.isoformat()}.md"


def markdown_download(digest: Digest) -> HttpResponse:
    """The digest as a Markdown file download named digest-YYYY-MM-DD.md."""
    return HttpResponse(
        digest_export(digest).encode("utf-8"),
        content_type=MARKDOWN_CONTENT_TYPE,
        headers={"Content-Disposition": content_disposition_header(True, markdown_filename(digest))},
    )


@admin.register(Category)
class CategoryAdmin(TranslatableHistoryMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "position", "is_active", "item_count"]
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    # No prepopulated slug: the admin's JavaScript drops Chinese characters, so
    # 政策与监管 would become "". The model fills a blank slug with pinyin on save.
    fields = ["name", "slug", "position", "description", "is_active"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(description=_("items"), ordering="item_count")
    def item_count(self, category: Category) -> int:
        return category.item_count


class ItemInline(admin.StackedInline):
    """Items grouped under their category heading, ordered by category then position."""

    model = Item
    form = ItemForm
    extra = 0
    template = "admin/digests/digest/item_inline.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("category", "position"),
                    "title",
                    "summary",
                    "background",
                    "key_points",
                    ("source_name", "source_url"),
                    ("image_url", "image_alt"),
                    "highlight",
                ]
            },
        ),
    ]

    class Media:
        css = {"all": ["digests/admin/digest-items.css"]}
        js = ["digests/admin/digest-items.js"]

    def get_fieldsets(self, request, obj=None):
        fields = self.fieldsets[0][1]["fields"]
        if obj is not None and obj.is_weekly:
            # "Highlight of the week" picks items of dailies for the weekly; in the weekly itself it means nothing.
            fields = [field for field in fields if field != "highlight"]
        if _editable(obj):
            return [(None, {"fields": fields})]
        # A read-only digest shows key points as a list rather than as the stored JSON.
        fields = ["key_point_list" if field == "key_points" else field for field in fields]
        return [(None, {"fields": fields})]

    def get_readonly_fields(self, request, obj=None):
        return [] if _editable(obj) else ["key_point_list"]

    @admin.display(description=_("要点 key points"))
    def key_point_list(self, item: Item) -> str:
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((point,) for point in item.key_points)))

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("category")
            .order_by("category__position", "category_id", "position", "id")
        )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "category" and hasattr(field.widget, "can_delete_related"):
            # Deleting a category from inside a digest would take other digests' items with it.
            field.widget.can_delete_related = False
            field.widget.can_view_related = False
        return field

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "category":
            # Every item form renders the same category list; fetch it once per request.
            if not hasattr(request, "_digest_category_choices"):
                request._digest_category_choices = list(field.choices)
            field.choices = request._digest_category_choices
        return field

    def has_add_permission(self, request, obj=None):
        return _editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _editable(obj) and super().has_delete_permission(request, obj)


def change_form_errors(adminform, inline_admin_formsets) -> list[dict]:
    """Every error on the page, each naming its item (number, title, category) and field, for the summary on top."""
    summary = []
    if adminform is not None:
        form = adminform.form
        for name, errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else gettext("Digest")
            anchor = form[name].id_for_label if name in form.fields else ""
            summary.append({"where": gettext("Digest"), "field": label, "errors": errors, "anchor": anchor})
    for inline in inline_admin_formsets:
        formset = inline.formset
        for error in formset.non_form_errors():
            summary.append({"where": gettext("Items"), "field": "", "errors": [error], "anchor": ""})
        for number, form in enumerate(formset.forms, start=1):
            if not form.errors:
                continue
            title = (form.data.get(form.add_prefix("title")) or "").strip() if form.is_bound else ""
            category = form.cleaned_data.get("category") if hasattr(form, "cleaned_data") else None
            where = gettext("Item %(number)d") % {"number": number}
            if title:
                where += f" “{title[:30]}”"
            if category:
                where += f" ({category})"
            for name, errors in form.errors.items():
                in_form = name in form.fields
                summary.append(
                    {
                        "where": where,
                        "field": form.fields[name].label if in_form else "",
                        "errors": errors,
                        "anchor": form[name].id_for_label if in_form else "",
                    }
                )
    return summary


def ordered_items_for(digest: Digest) -> list[Item]:
    return list(digest.items.select_related("category").order_by("position", "id"))


def _editable(digest: Digest | None) -> bool:
    return digest is None or digest.is_editable


@admin.register(Digest)
class DigestAdmin(
    TranslatableHistoryMixin, DigestAutopilotAdminMixin, DigestSendingAdminMixin, DigestStatsAdminMixin, admin.ModelAdmin
):
    list_display = ["issue_date", "edition_label", "title", "status", "item_count", "author"]
    list_display_links = ["issue_date", "title"]
    list_filter = ["edition", "status"]
    date_hierarchy = "issue_date"
    search_fields = ["title", "items__title"]
    list_select_related = ["author"]
    inlines = [ItemInline]
    change_form_template = "admin/digests/digest/change_form.html"

    class Media:
        css = {"all": ["digests/admin/digest-editor.css"]}
        js = ["digests/admin/digest-editor.js", "digests/admin/digest-preview.js"]

    actions = ["export_markdown"]
    form = DigestForm
    fieldsets = [
        (None, {"fields": ["issue_date", "title", "intro"]}),
        (
            _("The email"),
            {
                "fields": ["subject", "preheader", "lead_item", "section_order_names", "brand"],
                "description": _(
                    "Left empty, the subject and preheader are generated from the lead story; "
                    "the preview shows the result and the checks."
                ),
            },
        ),
        (
            pgettext_lazy("digest admin fieldset", "Sending"),
            {"fields": ["status", "send_schedule", "send_started", "send_finished"]},
        ),
        (_("History"), {"fields": ["author", "created", "updated"], "classes": ["collapse"]}),
    ]
    # Status only moves through digests.content.digest_transition, and the send
    # time only through the sending page's digest_schedule: a time typed here
    # would look scheduled while the dispatcher (which picks scheduled digests)
    # never sent it.
    readonly_fields = ["status", "send_schedule", "send_started", "send_finished", "author", "created", "updated", "brand"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_count=Count("items", distinct=True))

    @admin.display(description=_("section order"))
    def section_order_names(self, digest: Digest) -> str:
        """The read-only form of the section order (a digest that is sending or sent)."""
        used = Category.objects.filter(items__digest=digest).distinct()
        return " → ".join(category.name for category in sorted(used, key=section_rank(digest.section_order)))

    @admin.display(description=_("brand"))
    def brand(self, digest: Digest | None = None) -> str:
        """The brand settings the email uses (set by the operator in the environment), for editors to see."""
        # Colour swatches as SVG fills: the admin's Content-Security-Policy refuses style attributes.
        swatch = '<svg width="14" height="14" aria-hidden="true"><rect width="14" height="14" fill="{}"/></svg>'
        return format_html(
            "{} · {} " + swatch + " {} · {} " + swatch + " {} · {}",
            settings.SITE_NAME,
            _("accent"),
            settings.BRAND_ACCENT_COLOR,
            settings.BRAND_ACCENT_COLOR,
            _("text and links"),
            settings.BRAND_ACCENT_TEXT_COLOR,
            settings.BRAND_ACCENT_TEXT_COLOR,
            _("logo: %(url)s") % {"url": settings.BRAND_LOGO_URL} if settings.BRAND_LOGO_URL else _("no logo"),
        ) + format_html("<br>{}", settings.BRAND_TAGLINE)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        # Live character counts (digest-editor.js) where mail apps cut text off:
        # any field with data-char-count gets one, with its limit if it has one.
        if db_field.name == "subject":
            # Counted in characters here; the pre-send check also counts a Chinese character as two columns.
            field.widget.attrs.update({"data-char-count": SUBJECT_MAX_COLUMNS, "class": "vTextField item-wide"})
        elif db_field.name == "title":
            field.widget.attrs.update({"class": "vTextField item-wide"})
        elif db_field.name == "preheader":
            field.widget.attrs.update({"data-char-count": PREHEADER_MAX_CHARS, "class": "vTextField item-wide"})
        return field

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["error_summary"] = change_form_errors(context.get("adminform"), context.get("inline_admin_formsets", []))
        if obj is not None and obj.pk:
            context["side_preview"] = self._side_preview(request, obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.display(description=_("items"), ordering="item_count")
    def item_count(self, digest: Digest) -> int:
        return digest.item_count

    @admin.display(description=_("edition"), ordering="edition")
    def edition_label(self, digest: Digest) -> str:
        """ "Daily", or "Weekly" with the days it covers."""
        if not digest.is_weekly:
            return digest.get_edition_display()
        start = digest.period_start.isoformat() if digest.period_start else "?"
        return format_html(
            '<strong class="weekly-badge">{}</strong> {} – {}', digest.get_edition_display(), start, digest.issue_date.isoformat()
        )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not obj.is_weekly:
            return fieldsets
        first = [("edition_label" if name == "issue_date" else name) for name in fieldsets[0][1]["fields"]]
        return [(fieldsets[0][0], {**fieldsets[0][1], "fields": first}), *fieldsets[1:]]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "edition_label"] if obj is not None and obj.is_weekly else fields

    # Every time on the page carries its zone: "2026-12-02 07:30 Asia/Shanghai (UTC+08:00)".
    @admin.display(description=_("send started"))
    def send_started(self, digest: Digest) -> str:
        return time_label(digest.send_started_at) or "—"

    @admin.display(description=_("send finished"))
    def send_finished(self, digest: Digest) -> str:
        return time_label(digest.send_finished_at) or "—"

    @admin.display(description=_("created"))
    def created(self, digest: Digest) -> str:
        return time_label(digest.created_at)

    @admin.display(description=_("updated"))
    def updated(self, digest: Digest) -> str:
        return time_label(digest.updated_at)

    @admin.display(description=_("send time"))
    def send_schedule(self, digest: Digest) -> str:
        if digest.status == Digest.Status.SCHEDULED:
            return time_label(digest.scheduled_at)
        if digest.status in (Digest.Status.DRAFT, Digest.Status.CANCELLED):
            return gettext("Not scheduled. Publishers schedule on the “Schedule and send” page.")
        return time_label(digest.scheduled_at) or "—"

    def has_change_permission(self, request, obj=None):
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _editable(obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if obj.author_id is None:
            obj.author = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="%s_%s_import" % info),
            path("build-weekly/", wrap(self.build_weekly_view), name="%s_%s_build_weekly" % info),
            path("<path:object_id>/export/", wrap(self.export_view), name="%s_%s_export" % info),
            path("<path:object_id>/preview/", wrap(self.preview_view), name="%s_%s_preview" % info),
            path("<path:object_id>/duplicate/", wrap(self.duplicate_view), name="%s_%s_duplicate" % info),
            path("<path:object_id>/highlights/", wrap(self.highlights_view), name="%s_%s_highlights" % info),
            path("<path:object_id>/preview/email/", wrap(self.preview_email_view), name="%s_%s_preview_email" % info),
        ] + super().get_urls()

    def _viewable_digest(self, request: HttpRequest, object_id: str) -> Digest:
        if not self.has_view_permission(request):
            raise PermissionDenied
        digest = self.get_object(request, unquote(object_id))
        if digest is None:
            raise Http404(gettext("No digest with id %(id)s.") % {"id": object_id})
        if not self.has_view_permission(request, digest):
            raise PermissionDenied
        return digest

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        problems = []
        if request.method == "POST":
            form = MarkdownImportForm(request.POST, request.FILES)
            if form.is_valid():
                replace = form.cleaned_data["replace"]
                if replace and not self.has_change_permission(request):
                    raise PermissionDenied
                try:
                    digest = digest_import(digest_parse(form.read()), replace=replace, author=request.user)
                except DigestFormatError as exc:
                    problems = exc.problems
                else:
                    if form.pasted:
                        how = gettext("Replaced from pasted text.") if replace else gettext("Imported from pasted text.")
                    else:
                        how = (
                            gettext("Replaced from an uploaded Markdown file.")
                            if replace
                            else gettext("Imported from an uploaded Markdown file.")
                        )
                    (self.log_change if replace else self.log_addition)(request, digest, how)
                    count = digest.items.count()
                    message = ngettext(
                        "Imported “%(digest)s” with %(count)d item.", "Imported “%(digest)s” with %(count)d items.", count
                    ) % {"digest": digest, "count": count}
                    self.message_user(request, message, messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:digests_digest_change", args=[digest.pk]))
        else:
            form = MarkdownImportForm(initial=self._paste_initial(request))
        pasted = form.is_bound and form.is_valid() and form.pasted
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Import a digest from Markdown"),
            "form": form,
            "problems": problems,
            "pasted": pasted,
            "filename": request.FILES["file"].name if "file" in request.FILES else gettext("The pasted text"),
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/digests/digest/import.html", context)

    def build_weekly_view(self, request: HttpRequest) -> HttpResponse:
        """The week's draft weekly edition from its sent dailies (``weekly_build``), as ``build_weekly`` does."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = WeeklyBuildForm(request.POST)
            if form.is_valid():
                replace = form.cleaned_data["replace"]
                if replace and not self.has_change_permission(request):
                    raise PermissionDenied
                try:
                    digest = weekly_build(form.cleaned_data["end_date"], replace=replace, author=request.user)
                except WeeklyBuildError as exc:
                    form.add_error(None, str(exc))
                else:
                    how = gettext("Rebuilt from the week's dailies.") if replace else gettext("Built from the week's dailies.")
                    (self.log_change if replace else self.log_addition)(request, digest, how)
                    count = digest.items.count()
                    message = ngettext(
                        "Built the weekly edition “%(digest)s” with %(count)d item. Write its 导语, adjust it, then preview and send it like a daily.",
                        "Built the weekly edition “%(digest)s” with %(count)d items. Write its 导语, adjust it, then preview and send it like a daily.",
                        count,
                    ) % {"digest": digest, "count": count}
                    self.message_user(request, message, messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:digests_digest_change", args=[digest.pk]))
        else:
            form = WeeklyBuildForm(initial=self._weekly_initial(request))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Build the weekly edition"),
            "form": form,
            "per_category": settings.WEEKLY_ITEMS_PER_CATEGORY,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/digests/digest/build_weekly.html", context)

    def _weekly_initial(self, request: HttpRequest) -> dict:
        """The end date asked for (``?end_date=``, ``&replace=1`` from a weekly's page), else the latest sent daily's date."""
        try:
            end = datetime.date.fromisoformat(request.GET.get("end_date", ""))
        except ValueError:
            end = (
                Digest.objects.filter(edition=Digest.Edition.DAILY, status__in=SOURCE_STATUSES)
                .order_by("-issue_date")
                .values_list("issue_date", flat=True)
                .first()
            )
        return {"end_date": end, "replace": request.GET.get("replace") == "1"}

    def _side_preview(self, request: HttpRequest, digest: Digest) -> dict:
        """The saved draft's email beside the form: a variant picker, a phone width, a test copy to oneself."""
        info = self.opts.app_label, self.opts.model_name
        return {
            "email_url": reverse("admin:%s_%s_preview_email" % info, args=[digest.pk]),
            "categories": Category.objects.filter(items__digest=digest).distinct().order_by("position", "id"),
            "languages": settings.LANGUAGES,
            "test_url": reverse("admin:%s_%s_test_copy" % info, args=[digest.pk]),
            "test_form": TestSendForm(digest=digest, initial={"language": Subscriber.Language.ZH_HANS}),
            "email": request.user.email,
        }

    def _paste_initial(self, request: HttpRequest) -> dict:
        """``?replace=<id>``: the text box starts with that editable digest's text, to edit and replace it whole."""
        object_id = request.GET.get("replace", "")
        if not object_id.isdigit():
            return {}
        digest = Digest.objects.filter(pk=object_id).first()
        if digest is None or not digest.is_editable:
            return {}
        return {"text": digest_export(digest), "replace": True}

    def duplicate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Tomorrow's draft from this issue: its title and sections, optionally its items (``digest_duplicate``)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        digest = self._viewable_digest(request, object_id)
        form = DuplicateForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                copy = digest_duplicate(digest=digest, with_items=form.cleaned_data["with_items"], author=request.user)
            except DigestDateTaken as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.log_addition(request, copy, gettext("Duplicated from %(digest)s.") % {"digest": digest})
                self.message_user(
                    request, gettext("Created the draft for %(date)s.") % {"date": copy.issue_date.isoformat()}, messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:digests_digest_change", args=[copy.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": digest,
            "title": gettext("Duplicate as a new issue: %(digest)s") % {"digest": digest},
            "form": form,
            "new_date": digest.issue_date + datetime.timedelta(days=1),
        }
        return TemplateResponse(request, "admin/digests/digest/duplicate.html", context)

    def highlights_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Tick a daily's "highlight of the week" items, also once it is sent (the email is not changed by it)."""
        digest = self._viewable_digest(request, object_id)
        if digest.is_weekly:
            raise Http404(gettext("A weekly edition has no highlights; they are chosen in its dailies."))
        # Model-level change permission: a sent digest is read-only, but its highlights only feed the weekly.
        can_change = super().has_change_permission(request)
        items = ordered_items_for(digest)
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            chosen = {int(value) for value in request.POST.getlist("highlight") if value.isdigit()}
            marked = Item.objects.filter(digest=digest, pk__in=chosen).update(highlight=True)
            Item.objects.filter(digest=digest).exclude(pk__in=chosen).update(highlight=False)
            self.log_change(request, digest, gettext("Highlights of the week: %(count)d items.") % {"count": marked})
            self.message_user(
                request,
                ngettext(
                    "%(count)d item of this issue is a highlight of the week.",
                    "%(count)d items of this issue are highlights of the week.",
                    marked,
                )
                % {"count": marked},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:digests_digest_highlights", args=[digest.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": digest,
            "title": gettext("Highlights of the week: %(digest)s") % {"digest": digest},
            "sections": items_by_section(items, digest.section_order),
            "can_change": can_change,
        }
        return TemplateResponse(request, "admin/digests/digest/highlights.html", context)

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        digest = self._viewable_digest(request, object_id)
        return markdown_download(digest)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The pre-send checks, a variant and language chooser, and the email itself in a sandboxed frame."""
        digest = self._viewable_digest(request, object_id)
        chosen = _preview_categories(request)
        query = request.GET.urlencode()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": digest,
            "title": gettext("Preview: %(digest)s") % {"digest": digest},
            "problems": digest_check(digest),
            "subject": digest_subject(digest),
            "preheader": variant_preheader(digest, digest_content(digest).sections),
            "categories": Category.objects.filter(items__digest=digest).distinct().order_by("position", "id"),
            "chosen": chosen,
            "language": request.GET.get("language", ""),
            "part": request.GET.get("part", "html"),
            "email_url": reverse("admin:digests_digest_preview_email", args=[digest.pk]) + (f"?{query}" if query else ""),
        }
        return TemplateResponse(request, "admin/digests/digest/preview_page.html", context)

    def preview_email_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        digest = self._viewable_digest(request, object_id)
        language = request.GET.get("language") or None
        if language not in {code for code, _name in settings.LANGUAGES}:
            language = None
        html = preview_html(digest, _preview_categories(request), text=request.GET.get("part") == "text", language=language)
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = PREVIEW_CSP
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response

    @admin.action(description=_("Export selected digests as Markdown"), permissions=["view"])
    def export_markdown(self, request: HttpRequest, queryset) -> HttpResponse:
        digests = list(queryset.order_by("issue_date"))
        if len(digests) == 1:
            return markdown_download(digests[0])
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for digest in digests:
                archive.writestr(markdown_filename(digest), digest_export(digest).encode("utf-8"))
        return HttpResponse(
            buffer.getvalue(),
            content_type="application/zip",
            headers={"Content-Disposition": content_disposition_header(True, "digests.zip")},
        )
