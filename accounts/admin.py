"""People of the organization in the authoring admin: members, roles, invitations, API keys."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import TenantAdmin
from accounts.api_keys import api_key_create, api_key_revoke
from accounts.models import ApiKey, AuditEvent, MemberInvitation, Membership, Role
from accounts.services import member_invite, membership_change_role, membership_remove


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    """Owners and admins change roles and remove members; the last owner stays."""

    edit_check = "can_manage_people"
    list_display = ("email", "full_name", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "user__full_name")
    fields = ("email", "full_name", "role", "created_at")
    readonly_fields = ("email", "full_name", "created_at")
    list_select_related = ("user",)
    actions = ["delete_selected"]

    @admin.display(ordering="user__email", description=_("email"))
    def email(self, obj: Membership) -> str:
        return obj.user.email

    @admin.display(ordering="user__full_name", description=_("name"))
    def full_name(self, obj: Membership) -> str:
        return obj.user.full_name

    def has_add_permission(self, request) -> bool:
        # People join by accepting an invitation, never by being added directly.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        if not super().has_delete_permission(request, obj):
            return False
        if obj is not None and obj.role == Role.OWNER:
            owners = Membership.objects.filter(role=Role.OWNER).count()
            return owners > 1
        return True

    def save_model(self, request, obj, form, change):
        try:
            membership_change_role(membership=obj, role=obj.role, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class LastOwnerForm(form):
            def clean_role(self):
                role = self.cleaned_data["role"]
                if (
                    self.instance.pk
                    and self.instance.role == Role.OWNER
                    and role != Role.OWNER
                    and Membership.objects.filter(role=Role.OWNER).count() <= 1
                ):
                    raise ValidationError(
                        _("The last owner cannot be demoted; make someone else owner first.")
                    )
                return role

        return LastOwnerForm

    def delete_model(self, request, obj):
        try:
            membership_remove(membership=obj, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            self.delete_model(request, membership)


class InviteForm(forms.ModelForm):
    class Meta:
        model = MemberInvitation
        fields = ("email", "role")


@admin.register(MemberInvitation)
class MemberInvitationAdmin(TenantAdmin):
    """Invite colleagues by email; pending invitations can be revoked."""

    edit_check = "can_manage_people"
    form = InviteForm
    list_display = ("email", "role", "invited_by", "created_at", "expires_at", "state")
    list_filter = ("role",)
    search_fields = ("email",)
    actions = ["revoke"]

    @admin.display(description=_("state"))
    def state(self, obj: MemberInvitation) -> str:
        if obj.accepted_at:
            return _("accepted")
        if obj.revoked_at:
            return _("revoked")
        return _("pending") if obj.is_open else _("expired")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return ("email", "role") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        # The form checked the address; the service refreshes an open invitation instead
        # of failing on the unique constraint, and sends the email after commit.
        invitation = member_invite(
            organization=request.organization,
            email=obj.email,
            role=obj.role,
            invited_by=request.user,
        )
        obj.pk = invitation.pk

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        organization = request.organization

        class CheckedInviteForm(form):
            def clean_email(self):
                email = self.cleaned_data["email"].strip().lower()
                if (
                    Membership.objects.for_organization(organization)
                    .filter(user__email__iexact=email)
                    .exists()
                ):
                    raise ValidationError(
                        _("%(email)s is already a member."), params={"email": email}
                    )
                return email

        return CheckedInviteForm

    def has_manage_permission(self, request) -> bool:
        return self.can_edit(request)

    @admin.action(description=_("Revoke selected invitations"), permissions=["manage"])
    def revoke(self, request, queryset):
        count = queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        self.message_user(request, _("%(count)d invitation(s) revoked.") % {"count": count})


@admin.register(AuditEvent)
class AuditEventAdmin(TenantAdmin):
    """The audit trail, read-only."""

    list_display = ("created_at", "actor", "action", "target_type", "target_repr")
    list_filter = ("action", "target_type")
    search_fields = ("target_repr", "actor__email")
    list_select_related = ("actor",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("name",)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    """Owners and admins create keys (shown once) and revoke them; nobody edits one."""

    edit_check = "can_manage_people"
    form = ApiKeyForm
    list_display = ("name", "masked", "created_by", "created_at", "last_used_at", "state")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    list_select_related = ("created_by",)
    readonly_fields = ("masked", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    @admin.display(description=_("key"))
    def masked(self, obj: ApiKey) -> str:
        return f"mla_{obj.prefix}_…"

    @admin.display(description=_("state"))
    def state(self, obj: ApiKey) -> str:
        return (
            _("active")
            if obj.is_active
            else _("revoked %(when)s") % {"when": f"{obj.revoked_at:%Y-%m-%d %H:%M}"}
        )

    def get_fields(self, request, obj=None):
        return ("name",) if obj is None else ("name", *self.readonly_fields)

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and self.can_edit(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the audit trail keeps the key's history

    def save_model(self, request, obj, form, change):
        api_key, plain = api_key_create(
            organization=request.organization, name=form.cleaned_data["name"], actor=request.user
        )
        obj.pk, obj.prefix = api_key.pk, api_key.prefix
        messages.warning(
            request,
            _("Copy the key now, it is not shown again: %(key)s") % {"key": plain},
        )

    def log_addition(self, request, obj, message):
        return None  # api_key_create wrote the audit event

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        count = sum(api_key_revoke(api_key=key, actor=request.user) for key in queryset)
        self.message_user(request, _("%(count)d key(s) revoked.") % {"count": count})
