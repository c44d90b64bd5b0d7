"""The admin for webhooks: endpoints (owners and admins), deliveries and their attempt log."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import ReadOnlyTenantInline, TenantAdmin
from assessments.core.models import Event
from assessments.hr.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from assessments.hr.webhooks.services import (
    webhook_delivery_redeliver,
    webhook_endpoint_reset_if_enabled,
)

# Endpoints send candidates' names, emails and scores to a URL of the organization's
# choosing, and their secrets sign as the platform: managed by owners and admins.
WEBHOOK_MANAGERS = "can_manage_people"


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=Event.Type.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The events sent to this URL."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "events", "enabled")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantAdmin):
    edit_check = WEBHOOK_MANAGERS
    form = WebhookEndpointForm
    list_display = ("url", "event_list", "state", "consecutive_failures", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "description")
    readonly_fields = ("state", "secret", "failing_since", "deliveries_link")

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "events", "enabled"]
        if obj is not None:
            fields += ["state", "failing_since", "deliveries_link"]
            # The secret signs as the platform: shown to those who manage endpoints only.
            if self.can_edit(request):
                fields.insert(4, "secret")
        return fields

    @admin.display(description=_("events"))
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)

    @admin.display(description=_("state"))
    def state(self, obj: WebhookEndpoint) -> str:
        if obj.enabled:
            if obj.failing_since is not None:
                return _("Enabled, failing since %(when)s") % {
                    "when": obj.failing_since.strftime("%Y-%m-%d %H:%M")
                }
            return _("Enabled")
        if obj.disabled_at is not None:
            return _("Disabled by the platform on %(when)s: %(reason)s") % {
                "when": obj.disabled_at.strftime("%Y-%m-%d %H:%M"),
                "reason": obj.disabled_reason,
            }
        return _("Disabled")

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:assessments_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">{}</a>', url, obj.pk, _("View"))

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        webhook_endpoint_reset_if_enabled(obj)
        super().save_model(request, obj, form, change)


class WebhookAttemptInline(ReadOnlyTenantInline, admin.TabularInline):
    model = WebhookAttempt
    fields = (
        "number", "attempted_at", "manual", "status_code", "duration_ms", "error",
        "response_excerpt",
    )  # fmt: skip


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantAdmin):
    """Deliveries are written by events and workers; here they are followed and resent."""

    edit_check = WEBHOOK_MANAGERS
    list_display = (
        "event_type", "endpoint", "status", "attempts", "last_status_code", "last_attempt_at",
        "next_attempt_at", "created_at",
    )  # fmt: skip
    list_filter = ("status", "event__type", "endpoint")
    list_select_related = ("event", "endpoint")
    date_hierarchy = "created_at"
    actions = ("redeliver_selected",)
    inlines = (WebhookAttemptInline,)
    fields = (
        "event_type", "webhook_id", "endpoint", "status", "attempts", "attempt_limit",
        "next_attempt_at", "last_attempt_at", "last_status_code", "last_error", "delivered_at",
        "created_at", "payload",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description=_("event"), ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description=_("webhook-id"))
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return obj.webhook_id

    @admin.display(description=_("payload"))
    def payload(self, obj: WebhookDelivery) -> str:
        from assessments.hr.webhooks.services import event_body

        return format_html("<pre>{}</pre>", event_body(obj.event).decode())

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the log is history

    def has_redeliver_permission(self, request) -> bool:
        return self.can_edit(request)

    @admin.action(description=_("Redeliver selected now"), permissions=["redeliver"])
    def redeliver_selected(self, request, queryset):
        sent = 0
        for delivery in queryset.select_related("endpoint"):
            try:
                webhook_delivery_redeliver(delivery=delivery, actor=request.user)
            except ValidationError as exc:
                self.message_user(
                    request, f"{delivery.endpoint.url}: {' '.join(exc.messages)}", messages.ERROR
                )
                continue
            sent += 1
        self.message_user(request, _("Queued %(n)d redelivery(ies).") % {"n": sent})
