"""The machine interface in the admin: API keys, webhook endpoints and their attempts, autopilot approval."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from digests.apikeys import api_key_revoke
from digests.delivery.autopilot import approval_deadline, digest_approve
from digests.models import ApiKey, Digest, WebhookAttempt, WebhookEndpoint
from digests.models.automation import EVENT_TYPES, SCOPES
from digests.webhooks.delivery import endpoint_send_test, webhook_secret_new


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=[(s, s) for s in SCOPES], widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made on the command line (create_api_key), which shows the secret once; here they are scoped and revoked."""

    form = ApiKeyForm
    list_display = ["name", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    @admin.display(description=_("scopes"))
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes)

    @admin.action(description=_("Revoke the selected API keys"))
    def revoke_selected(self, request, queryset):
        count = sum(api_key_revoke(key) for key in queryset)
        self.message_user(
            request, ngettext("%(count)d API key revoked.", "%(count)d API keys revoked.", count) % {"count": count}
        )

    def has_add_permission(self, request):
        return False


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=1000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=[(e, e) for e in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("None ticked means every event."),
    )
    secret = forms.CharField(
        label=_("secret"), required=False, help_text=_("whsec_… (Standard Webhooks); a new one is generated when empty.")
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "event_types", "secret", "enabled"]

    def clean_secret(self):
        return self.cleaned_data["secret"].strip() or webhook_secret_new()


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "enabled", "event_list", "failing_since", "attempt_log"]
    list_filter = ["enabled"]
    readonly_fields = ["failing_since", "disabled_reason", "created_at"]
    actions = ["send_test_event"]

    @admin.display(description=_("event types"))
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types) or gettext("every event")

    @admin.display(description=_("attempts"))
    def attempt_log(self, endpoint: WebhookEndpoint) -> str:
        url = reverse("admin:digests_webhookattempt_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{}</a>', url, gettext("attempt log"))

    def save_model(self, request, obj, form, change):
        if obj.enabled:
            obj.disabled_reason = ""
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Send a test event"))
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            delivery = endpoint_send_test(endpoint)
            attempt = delivery.log.first()
            if delivery.status == delivery.Status.DELIVERED:
                self.message_user(
                    request,
                    gettext("%(url)s answered %(code)s.") % {"url": endpoint.url, "code": attempt.status_code},
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    gettext("%(url)s failed: %(error)s") % {"url": endpoint.url, "error": attempt.error},
                    messages.ERROR,
                )


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    list_display = ["attempted_at", "endpoint", "event_type", "status_code", "ok", "duration_ms", "error"]
    list_filter = ["ok", "endpoint"]
    list_select_related = ["endpoint", "delivery__event"]
    date_hierarchy = "attempted_at"

    @admin.display(description=_("event type"))
    def event_type(self, attempt: WebhookAttempt) -> str:
        return attempt.delivery.event.event_type

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DigestAutopilotAdminMixin:
    """Adds the autopilot state and approval deadline to the digest list, and the Publisher's approval."""

    def get_list_display(self, request):
        return [*super().get_list_display(request), "autopilot_state", "approval_deadline"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if request.user.has_perm("digests.send_digest"):
            actions["approve_for_autopilot"] = self.get_action("approve_for_autopilot")
        return actions

    @admin.display(description=_("autopilot"), ordering="autopilot")
    def autopilot_state(self, digest: Digest) -> str:
        if digest.autopilot == Digest.Autopilot.HELD and digest.autopilot_note:
            return format_html('<span title="{}">{}</span>', digest.autopilot_note, digest.get_autopilot_display())
        return digest.get_autopilot_display() if digest.autopilot else "—"

    @admin.display(description=_("approval deadline"))
    def approval_deadline(self, digest: Digest) -> str:
        deadline = approval_deadline(digest)
        return timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M") if deadline else "—"

    @admin.action(description=_("Approve for the autopilot"))
    def approve_for_autopilot(self, request, queryset):
        approved = sum(digest_approve(digest, user=request.user) for digest in queryset)
        self.message_user(
            request,
            ngettext("%(count)d digest approved.", "%(count)d digests approved.", approved) % {"count": approved},
            messages.SUCCESS if approved else messages.WARNING,
        )
