"""The admin for badges: awards (follow, revoke with a reason) and signing keys (rotate).

Both are owners' and admins' business: a revocation speaks for the organization, and a key
signs as it. Every member may look. No page shows a private key; the key admin has no field
for it.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import TenantAdmin
from accounts.audit import audit_record
from accounts.models import AuditEvent
from assessments.badges.models import BadgeAward, BadgeSigningKey
from assessments.badges.services import MAX_REASON, badge_revoke
from assessments.badges.signing_keys import signing_key_delete, signing_key_rotate

BADGE_MANAGERS = "can_manage_people"


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_REASON,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text=_("Shown on the badge's public page and in its status."),
    )


@admin.register(BadgeAward)
class BadgeAwardAdmin(TenantAdmin):
    """Awards are made by the rules; here they are listed and, when needed, revoked."""

    edit_check = BADGE_MANAGERS
    list_display = (
        "recipient_name", "version", "awarded_at", "score_display", "state", "public_link",
    )  # fmt: skip
    list_filter = ("version__challenge_set",)
    search_fields = ("recipient_name", "recipient_email")
    list_select_related = ("version",)
    date_hierarchy = "awarded_at"
    actions = ("revoke_selected",)
    fields = (
        "public_link",
        "recipient_name",
        "recipient_email",
        "version",
        "score_display",
        "awarded_at",
        "state",
        "revoked_by",
        "signing_key",
    )
    readonly_fields = fields

    @admin.display(description=_("score"))
    def score_display(self, obj: BadgeAward) -> str:
        return f"{obj.score:g} / {obj.max_score:g}"

    @admin.display(description=_("state"))
    def state(self, obj: BadgeAward) -> str:
        if obj.is_valid:
            return _("Valid")
        return _("Revoked on %(when)s: %(reason)s") % {
            "when": obj.revoked_at.strftime("%Y-%m-%d %H:%M"),
            "reason": obj.revocation_reason,
        }

    @admin.display(description=_("public page"))
    def public_link(self, obj: BadgeAward) -> str:
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), _("View"))

    def has_add_permission(self, request) -> bool:
        return False  # earned, never made by hand

    def has_change_permission(self, request, obj=None) -> bool:
        # Nothing is edited; the revoke action is the one change, for managers only.
        return obj is None and self.can_edit(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the credential is out there

    @admin.action(description=_("Revoke selected badges…"), permissions=["change"])
    def revoke_selected(self, request, queryset):
        form = RevokeForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            now, revoked = timezone.now(), 0
            for award in queryset:
                try:
                    revoked += badge_revoke(
                        award, reason=form.cleaned_data["reason"], actor=request.user, now=now
                    )
                except ValidationError as exc:
                    self.message_user(request, "; ".join(exc.messages), messages.ERROR)
                    return None
            skipped = queryset.count() - revoked
            self.message_user(request, _("Revoked %(n)d badge(s).") % {"n": revoked})
            if skipped:
                self.message_user(
                    request,
                    _("%(n)d were revoked already and kept their reason.") % {"n": skipped},
                    messages.WARNING,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Revoke badges"),
            "awards": queryset.select_related("version"),
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return render(request, "admin/assessments/badgeaward/revoke.html", context)


@admin.register(BadgeSigningKey)
class BadgeSigningKeyAdmin(TenantAdmin):
    """The organization's keys: the one that signs, and the retired ones still published."""

    edit_check = BADGE_MANAGERS
    list_display = ("kid", "state", "created_at", "retired_at", "credential_count")
    fields = ("kid", "state", "public_key", "created_at", "created_by", "retired_at")
    readonly_fields = fields
    actions = None  # no bulk delete: a key is removed one at a time, on purpose
    change_list_template = "admin/assessments/badgesigningkey/change_list.html"
    delete_confirmation_template = "admin/assessments/badgesigningkey/delete_confirmation.html"

    @admin.display(description=_("state"))
    def state(self, obj: BadgeSigningKey) -> str:
        return _("Signs new badges") if obj.is_active else _("Retired: verifies older badges")

    @admin.display(description=_("badges signed"))
    def credential_count(self, obj: BadgeSigningKey) -> int:
        return obj.credentials.count()

    def has_add_permission(self, request) -> bool:
        return False  # keys are made by rotating

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Only a retired key, and only from its own page: its badges then stop verifying.
        return obj is not None and not obj.is_active and self.can_edit(request)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("rotate/", view(self.rotate_view), name="assessments_badgesigningkey_rotate"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_rotate": self.can_edit(request)}
        return super().changelist_view(request, extra_context)

    def rotate_view(self, request):
        """Confirm, then retire the signing key and make a new one sign from now on."""
        if not self.can_edit(request):
            raise PermissionDenied
        if request.method == "POST":
            key = signing_key_rotate(actor=request.user, now=timezone.now())
            audit_record(
                organization=request.organization,
                actor=request.user,
                action=AuditEvent.Action.CREATED,
                target=key,
                changes={"rotated": True},
            )
            self.message_user(
                request,
                _("New badges are now signed with key %(kid)s; older ones still verify.")
                % {"kid": key.kid},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:assessments_badgesigningkey_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Rotate the signing key"),
        }
        return render(request, "admin/assessments/badgesigningkey/rotate.html", context)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "credential_count": obj.credentials.count()}
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        audit_record(
            organization=request.organization,
            actor=request.user,
            action=AuditEvent.Action.DELETED,
            target=obj,
        )
        signing_key_delete(obj)
