"""Scheduling, sending, test copies, pause/resume/cancel and live progress in the digest admin.

Every view here needs the ``digests.send_digest`` permission (the Publisher
group); editors get 403 and see no buttons. Each action is logged in the
admin history.
"""

from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from digests import queue
from digests.admin.times import time_label, zone_label
from digests.content.services import TransitionError
from digests.delivery.audience import digest_audience
from digests.delivery.progress import digest_progress
from digests.delivery.schedule import (
    StaleDigest,
    default_send_time,
    digest_cancel,
    digest_pause,
    digest_resume,
    digest_return_to_draft,
    digest_schedule,
    digest_start,
)
from digests.delivery.variants import variant_ids
from digests.models import Category, Digest, Item, Subscriber
from digests.queue import enqueue

PERMISSION = "digests.send_digest"


class ScheduleForm(forms.Form):
    """The one place a send time is chosen; the time is wall-clock time in the site's zone, named in the label."""

    send_at = forms.DateTimeField(
        label=gettext_lazy("Send time"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    allow_stale = forms.BooleanField(label=gettext_lazy("Send even if the issue is stale"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["send_at"].label = _("Send time, %(zone)s") % {"zone": zone_label()}


class TestSendForm(forms.Form):
    categories = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Variant (categories)"),
        queryset=Category.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: every category."),
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=Subscriber.Language.choices)

    def __init__(self, *args, digest: Digest, **kwargs):
        super().__init__(*args, **kwargs)
        ids = Item.objects.filter(digest=digest).values_list("category_id", flat=True)
        self.fields["categories"].queryset = Category.objects.filter(pk__in=ids)


def _pre_send_errors(digest: Digest) -> list[str]:
    try:
        from digests.rendering.presend import digest_check
    except ImportError:
        return []
    return [str(problem.message) for problem in digest_check(digest) if getattr(problem, "level", "error") == "error"]


def _variant_rows(by_variant: dict[str, int]) -> list[tuple[str, int]]:
    """(the variant's category names, readers), largest first."""
    names = dict(Category.objects.values_list("pk", "name"))
    rows = [
        (" · ".join(names.get(pk, "?") for pk in sorted(variant_ids(key), key=lambda pk: pk)), n) for key, n in by_variant.items()
    ]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def _confirmations(digest: Digest, recipients: int) -> dict[str, str]:
    """The questions asked before the two actions that cannot be taken back."""
    names = {"digest": str(digest), "n": recipients, "now": time_label(timezone.now())}
    send_now = (
        ngettext(
            "Send “%(digest)s” now to %(n)d reader? It starts at once (%(now)s) and cannot be taken back.",
            "Send “%(digest)s” now to %(n)d readers? It starts at once (%(now)s) and cannot be taken back.",
            recipients,
        )
        % names
    )
    if digest.status == Digest.Status.SCHEDULED:
        cancel = ngettext(
            "Cancel “%(digest)s”, scheduled for %(at)s to %(n)d reader?",
            "Cancel “%(digest)s”, scheduled for %(at)s to %(n)d readers?",
            recipients,
        ) % {**names, "at": time_label(digest.scheduled_at)}
    else:
        cancel = ngettext(
            "Cancel sending “%(digest)s” (%(n)d reader, started %(at)s)? Readers not yet sent to will not receive it.",
            "Cancel sending “%(digest)s” (%(n)d readers, started %(at)s)? Readers not yet sent to will not receive it.",
            recipients,
        ) % {**names, "at": time_label(digest.send_started_at) or "—"}
    return {"send_now": send_now, "cancel": cancel}


class DigestSendingAdminMixin:
    """Adds the sending page, its actions and a progress column to a Digest ModelAdmin."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path("<int:digest_id>/sending/", self.admin_site.admin_view(self.sending_view), name="%s_%s_sending" % info),
            path(
                "<int:digest_id>/sending/progress.json",
                self.admin_site.admin_view(self.progress_view),
                name="%s_%s_progress" % info,
            ),
            path("<int:digest_id>/test-copy/", self.admin_site.admin_view(self.test_copy_view), name="%s_%s_test_copy" % info),
            path(
                "<int:digest_id>/sending/<str:action>/",
                self.admin_site.admin_view(self.sending_action_view),
                name="%s_%s_sending_action" % info,
            ),
        ]
        return own + super().get_urls()

    def get_list_display(self, request):
        return [*super().get_list_display(request), "send_progress"]

    @staticmethod
    def can_send(request) -> bool:
        return request.user.has_perm(PERMISSION)

    def _digest(self, request, digest_id: int) -> Digest:
        if not self.can_send(request):
            raise PermissionDenied
        return get_object_or_404(Digest, pk=digest_id)

    def send_progress(self, digest: Digest):
        # Only a scheduled digest has a send time the dispatcher will honour; a
        # draft's leftover time (from a cancelled schedule) is not shown.
        if digest.status == Digest.Status.SCHEDULED:
            return time_label(digest.scheduled_at) or "—"
        if digest.status == Digest.Status.DRAFT:
            return "—"
        progress = digest_progress(digest, failures=0)
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_sending", args=[digest.pk])
        return format_html(
            '<a href="{}"><progress max="100" value="{}"></progress> {}%</a>',
            url,
            progress.percent,
            progress.percent,
        )

    send_progress.short_description = gettext_lazy("Sending")

    def sending_view(self, request, digest_id: int):
        digest = self._digest(request, digest_id)
        default_at = timezone.localtime(digest.scheduled_at or default_send_time(digest), zoneinfo.ZoneInfo(settings.TIME_ZONE))
        progress = digest_progress(digest)
        # Before the send the ledger is empty: count who the snapshot will write.
        audience = digest_audience(digest=digest) if not progress.audience else None
        recipients = audience.recipients if audience else progress.audience - progress.skipped
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "digest": digest,
            "original": digest,
            "title": _("Sending: %(digest)s") % {"digest": digest},
            "progress": progress,
            "audience": audience,
            "recipients": recipients,
            "variants": _variant_rows(audience.by_variant) if audience else [],
            "zone": zone_label(),
            "scheduled_label": time_label(digest.scheduled_at) if digest.status == Digest.Status.SCHEDULED else "",
            "confirm": _confirmations(digest, recipients),
            "schedule_form": ScheduleForm(
                initial={"send_at": default_at.replace(tzinfo=None), "allow_stale": digest.allow_stale}
            ),
            "test_form": TestSendForm(digest=digest, initial={"language": Subscriber.Language.ZH_HANS}),
            "problems": _pre_send_errors(digest),
            "progress_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_progress", args=[digest.pk]),
            "can": {
                "schedule": digest.status in (Digest.Status.DRAFT, Digest.Status.SCHEDULED),
                "send_now": digest.status in (Digest.Status.DRAFT, Digest.Status.SCHEDULED),
                "pause": digest.status == Digest.Status.SENDING,
                "resume": digest.status == Digest.Status.PAUSED,
                "cancel": digest.can_move_to(Digest.Status.CANCELLED),
                "return_to_draft": digest.status == Digest.Status.SCHEDULED,
            },
            "actions_urls": {
                name: reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_sending_action", args=[digest.pk, name])
                for name in ("schedule", "send_now", "test", "pause", "resume", "cancel", "return_to_draft")
            },
        }
        return TemplateResponse(request, "admin/digests/digest/sending.html", context)

    def progress_view(self, request, digest_id: int):
        digest = self._digest(request, digest_id)
        return JsonResponse(digest_progress(digest).as_dict())

    def test_copy_view(self, request, digest_id: int):
        """A test copy to one's own address: editors too, from the preview beside the change form."""
        digest = get_object_or_404(Digest, pk=digest_id)
        if not self.has_view_permission(request, digest):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        back = redirect(self._back_url(request, digest))
        try:
            done = self._action_test(request, digest)
        except ValueError as exc:
            messages.error(request, str(exc))
            return back
        self.log_change(request, digest, done)
        messages.success(request, done)
        return back

    def sending_action_view(self, request, digest_id: int, action: str):
        digest = self._digest(request, digest_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        back = redirect(self._back_url(request, digest))
        handler = getattr(self, f"_action_{action}", None)
        if handler is None:
            raise PermissionDenied
        try:
            with transaction.atomic():
                done = handler(request, digest)
        except StaleDigest as exc:
            messages.error(
                request, _("%(problem)s: tick “Send even if the issue is stale” to send it anyway.") % {"problem": exc}
            )
            return back
        except (TransitionError, ValueError) as exc:
            messages.error(request, str(exc))
            return back
        if done:
            self.log_change(request, digest, done)
            messages.success(request, done)
        return back

    def _back_url(self, request, digest: Digest) -> str:
        """Where an action returns: the page it was sent from (``next``, same site only), else the sending page."""
        wanted = request.POST.get("next", "")
        if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
            return wanted
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_sending", args=[digest.pk])

    def _refuse_if_problems(self, digest: Digest):
        problems = _pre_send_errors(digest)
        if problems:
            raise ValueError(_("Fix these problems before sending: %(problems)s") % {"problems": "; ".join(problems)})

    def _action_schedule(self, request, digest: Digest) -> str:
        form = ScheduleForm(request.POST)
        if not form.is_valid():
            raise ValueError(_("Enter a valid send time."))
        self._refuse_if_problems(digest)
        at = form.cleaned_data["send_at"]
        if timezone.is_naive(at):
            at = timezone.make_aware(at, zoneinfo.ZoneInfo(settings.TIME_ZONE))
        digest_schedule(digest, at=at, allow_stale=form.cleaned_data["allow_stale"])
        return _("Scheduled for %(at)s.") % {"at": time_label(at)}

    def _action_send_now(self, request, digest: Digest) -> str:
        self._refuse_if_problems(digest)
        report = digest_start(digest, immediate=True, allow_stale=bool(request.POST.get("allow_stale")) or digest.allow_stale)
        return _("Sending started: %(pending)d readers, %(skipped)d skipped.") % {
            "pending": report.pending,
            "skipped": report.skipped,
        }

    def _action_test(self, request, digest: Digest) -> str:
        form = TestSendForm(request.POST, digest=digest)
        if not form.is_valid():
            raise ValueError(_("Choose a valid variant and language."))
        if not request.user.email:
            raise ValueError(_("Your user account has no email address."))
        ids = [c.pk for c in form.cleaned_data["categories"]] or None
        enqueue(queue.SEND_DIGEST_TEST, digest.pk, ids, form.cleaned_data["language"], request.user.email)
        return _("A test copy is on its way to %(email)s.") % {"email": request.user.email}

    def _action_return_to_draft(self, request, digest: Digest) -> str:
        digest_return_to_draft(digest)
        return _("Returned to draft: unscheduled, editors can change it; schedule it again to approve it.")

    def _action_pause(self, request, digest: Digest) -> str:
        digest_pause(digest)
        return _("Sending paused.")

    def _action_resume(self, request, digest: Digest) -> str:
        digest_resume(digest)
        return _("Sending resumed.")

    def _action_cancel(self, request, digest: Digest) -> str:
        cancelled = digest_cancel(digest)
        return _("Sending cancelled; %(n)d deliveries will not be sent.") % {"n": cancelled}
