"""The authoring admin: Django's admin, scoped to the user's active organization."""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit_record
from accounts.models import AuditEvent
from accounts.selectors import memberships_of_user
from accounts.tenancy import TenantModel


def posted_with_unix_newlines(post: QueryDict) -> QueryDict:
    """Return ``post`` with every ``\r\n`` (and lone ``\r``) turned into ``\n``.

    Browsers send a textarea's line breaks as CRLF (the HTML form-submission rule), so every
    text an author types (prompt, code, options, variables, misconceptions, grading fields)
    would reach candidates, the sandbox and exports with ``\r``. Normalizing the posted data
    once, where every admin page receives it, covers each field and inline without each form
    having to remember it.
    """
    normalized = QueryDict(mutable=True, encoding=post.encoding)
    for key, values in post.lists():
        normalized.setlist(
            key, [value.replace("\r\n", "\n").replace("\r", "\n") for value in values]
        )
    normalized._mutable = False
    return normalized


class MemberAuthenticationForm(AuthenticationForm):
    """Let in members of an organization, not Django's "staff" flag."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not memberships_of_user(user=user).exists():
            raise ValidationError(
                _("This account is not a member of any organization yet."), code="no_membership"
            )


class AuthoringAdminSite(admin.AdminSite):
    """Admin for organization members; every page works inside one organization."""

    login_form = MemberAuthenticationForm

    site_header = _("ML Assess authoring")
    site_title = _("ML Assess")
    index_title = _("Your organization")
    enable_nav_sidebar = True

    def admin_view(self, view, cacheable=False):
        """Wrap every admin page so what a form posts is stored with ``\n`` line endings."""
        wrapped = super().admin_view(view, cacheable)

        @functools.wraps(view)
        def normalized(request, *args, **kwargs):
            if request.method == "POST":
                request.POST = posted_with_unix_newlines(request.POST)
            return wrapped(request, *args, **kwargs)

        return normalized

    def has_permission(self, request) -> bool:
        return (
            request.user.is_active
            and request.user.is_authenticated
            and getattr(request, "membership", None) is not None
        )


class TenantAdmin(admin.ModelAdmin):
    """Base of every admin of tenant data: lists, forms, lookups and actions stay in scope.

    Permissions come from the member's role, not Django's per-model permission table:
    ``edit_check`` names the membership property that allows adding, changing and deleting;
    every member may view. An object of another organization, like a missing one, is a 404
    on every view. Every create, change and delete made here lands in the audit trail.
    """

    edit_check = "can_edit_content"

    # --- scope ---------------------------------------------------------------------------
    def get_queryset(self, request):
        return super().get_queryset(request).for_organization(request.organization)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if issubclass(related, TenantModel) and "queryset" not in kwargs:
            kwargs["queryset"] = related.objects.for_organization(request.organization)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_object(self, request, object_id, from_field=None):
        # Django redirects to the index for a missing object (or answers 403 first when the
        # role may not change it); we answer 404 before anything else, so that "missing" and
        # "belongs to another organization" look the same from outside.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with that id")
        return obj

    def changelist_view(self, request, extra_context=None):
        # Actions silently skip ids outside the queryset (and an action the role may not
        # use is silently dropped); an id of another organization is answered 404 first,
        # the same as an id that does not exist, whoever asks.
        selected = set(request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME))
        if request.method == "POST" and selected and request.POST.get("select_across") != "1":
            try:
                found = self.get_queryset(request).filter(pk__in=selected).count()
            except (ValueError, ValidationError) as exc:
                raise Http404("No such object") from exc
            if found != len(selected):
                raise Http404("One of the selected objects does not exist")
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.organization = request.organization
        super().save_model(request, obj, form, change)
        audit_record(
            organization=request.organization,
            actor=request.user,
            action=AuditEvent.Action.CHANGED if change else AuditEvent.Action.CREATED,
            target=obj,
            changes={"fields": list(form.changed_data)} if form.changed_data else {},
        )

    def delete_model(self, request, obj):
        audit_record(
            organization=request.organization,
            actor=request.user,
            action=AuditEvent.Action.DELETED,
            target=obj,
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_record(
                organization=request.organization,
                actor=request.user,
                action=AuditEvent.Action.DELETED,
                target=obj,
            )
        super().delete_queryset(request, queryset)

    # --- role-based permissions -------------------------------------------------------------
    def has_module_permission(self, request) -> bool:
        return getattr(request, "membership", None) is not None

    def has_view_permission(self, request, obj=None) -> bool:
        return getattr(request, "membership", None) is not None

    def can_edit(self, request) -> bool:
        """Return whether the member's role may add, change and delete these objects."""
        membership = getattr(request, "membership", None)
        return membership is not None and getattr(membership, self.edit_check)

    def has_add_permission(self, request) -> bool:
        return self.can_edit(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.can_edit(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.can_edit(request)


class TenantInline:
    """Mixin for inlines of tenant data: the same scope and role rules as ``TenantAdmin``."""

    edit_check = "can_edit_content"

    def get_queryset(self, request):
        return super().get_queryset(request).for_organization(request.organization)

    def has_view_permission(self, request, obj=None) -> bool:
        return getattr(request, "membership", None) is not None

    def can_edit(self, request) -> bool:
        membership = getattr(request, "membership", None)
        return membership is not None and getattr(membership, self.edit_check)

    def has_add_permission(self, request, obj=None) -> bool:
        return self.can_edit(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.can_edit(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.can_edit(request)


class ReadOnlyTenantInline(TenantInline):
    """An inline of rows the application writes (a session's questions, delivery attempts):
    shown, never added, changed or deleted by hand. Subclasses set ``fields``."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
