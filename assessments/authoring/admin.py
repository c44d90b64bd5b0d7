"""The authoring admin for challenge sets (single challenges: ``admin_challenges``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import TenantAdmin, TenantInline
from assessments.authoring import admin_views
from assessments.authoring.key_checks import key_check_start
from assessments.authoring.models import Challenge, ChallengeSet, ChallengeSetVersion, KeyCheck
from assessments.authoring.publishing import check_challenges_valid
from assessments.authoring.rendering import render_markdown
from assessments.authoring.selectors import challenge_sets_with_summary, has_unpublished_changes
from assessments.authoring.services import (
    challenge_set_archive,
    challenge_set_duplicate,
    challenge_set_refresh_draft_hash,
)


class ChallengeInline(TenantInline, admin.TabularInline):
    """The set's challenges in order; each links to its own page for prompt and options."""

    model = Challenge
    fields = (
        "position", "title_link", "kind", "difficulty", "time_limit", "max_attempts", "points",
    )  # fmt: skip
    readonly_fields = ("title_link", "kind", "difficulty")
    ordering = ("position", "id")
    extra = 0
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        # A challenge needs a prompt and options: it is added on its own page.
        return False

    @admin.display(description=_("title"))
    def title_link(self, obj: Challenge) -> str:
        # ``from_set``: saving the challenge brings the author back to this page.
        url = reverse("admin:assessments_challenge_change", args=[obj.pk])
        return format_html('<a href="{}?from_set=1">{}</a>', url, obj.title)


class VersionInline(TenantInline, admin.TabularInline):
    """Version history: every published version, newest first, with its preview."""

    model = ChallengeSetVersion
    fields = ("number", "published_at", "published_by", "preview_link")
    readonly_fields = fields
    ordering = ("-number",)
    extra = 0
    can_delete = False
    verbose_name_plural = _("Published versions")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("preview"))
    def preview_link(self, obj: ChallengeSetVersion) -> str:
        url = reverse(
            "admin:assessments_challengeset_version_preview",
            args=[obj.challenge_set_id, obj.number],
        )
        return format_html('<a href="{}">{}</a>', url, _("Preview as candidate"))


@admin.register(ChallengeSet)
class ChallengeSetAdmin(TenantAdmin):
    # (route, view factory taking the model admin, URL name) added by other features' admins.
    object_pages: ClassVar[list[tuple[str, Callable, str]]] = []
    list_display = (
        "title", "slug", "status", "challenge_count", "latest_version", "pending_changes",
        "updated_at",
    )  # fmt: skip
    list_filter = ("status", "navigation")
    search_fields = ("title", "slug", "tagline")
    prepopulated_fields = {"slug": ("title",)}
    fieldsets = (
        (None, {"fields": ("title", "slug", "status", "tagline", "badge_promise")}),
        (_("Rules"), {"fields": ("navigation", "feedback", "time_limit")}),
        (_("Description"), {"fields": ("description", "description_preview")}),
        (_("Answer keys"), {"fields": ("latest_key_check",)}),
    )
    readonly_fields = ("status", "description_preview", "latest_key_check")
    inlines = [ChallengeInline, VersionInline]
    actions = ["publish_selected", "duplicate_selected", "archive_selected"]
    change_form_template = "admin/assessments/challengeset/change_form.html"
    # Candidates reach a set through invitations, not a public URL: "Preview as candidate"
    # is the view of it from outside.
    view_on_site = False
    change_list_template = "admin/assessments/challengeset/change_list.html"

    def get_queryset(self, request):
        return challenge_sets_with_summary().for_organization(request.organization)

    @admin.display(description=_("challenges"), ordering="challenge_count")
    def challenge_count(self, obj) -> int:
        return obj.challenge_count

    @admin.display(description=_("version"), ordering="latest_version_number")
    def latest_version(self, obj) -> str:
        return f"v{obj.latest_version_number}" if obj.latest_version_number else "—"

    @admin.display(description=_("unpublished changes"))
    def pending_changes(self, obj) -> str:
        # Words, not Django's ✓/✗ icons: "no pending changes" is the good state, and a red ✗
        # read as an error.
        if has_unpublished_changes(obj):
            return format_html('<span class="pending-changes">{}</span>', _("Yes, not published"))
        return format_html('<span class="no-pending-changes">{}</span>', _("None"))

    @admin.display(description=_("latest check"))
    def latest_key_check(self, obj) -> str:
        check = obj.key_checks.order_by("-requested_at").first() if obj and obj.pk else None
        if check is None:
            return _("Never checked. Publish or Verify keys runs every snippet in the sandbox.")
        url = reverse("admin:assessments_challengeset_key_check", args=[obj.pk, check.public_id])
        return format_html(
            '<a href="{}">{}: {}</a> ({})',
            url,
            check.get_purpose_display(),
            check.get_status_display(),
            check.requested_at.strftime("%Y-%m-%d %H:%M"),
        )

    @admin.display(description=_("rendered"))
    def description_preview(self, obj) -> str:
        return render_markdown(obj.description) if obj and obj.description else "—"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Inline edits (positions, timers) change the draft's content.
        challenge_set_refresh_draft_hash(form.instance)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "import/",
                view(admin_views.import_view(self)),
                name="assessments_challengeset_import",
            ),
            path(
                "<int:object_id>/publish/",
                view(admin_views.publish_view(self)),
                name="assessments_challengeset_publish",
            ),
            path(
                "<int:object_id>/verify-keys/",
                view(admin_views.verify_keys_view(self)),
                name="assessments_challengeset_verify_keys",
            ),
            path(
                "<int:object_id>/key-checks/<uuid:check_id>/",
                view(admin_views.key_check_view(self)),
                name="assessments_challengeset_key_check",
            ),
            path(
                "<int:object_id>/duplicate/",
                view(admin_views.duplicate_view(self)),
                name="assessments_challengeset_duplicate",
            ),
            path(
                "<int:object_id>/archive/",
                view(admin_views.archive_view(self)),
                name="assessments_challengeset_archive",
            ),
            path(
                "<int:object_id>/restore/",
                view(admin_views.restore_view(self)),
                name="assessments_challengeset_restore",
            ),
            path(
                "<int:object_id>/export/",
                view(admin_views.export_view(self)),
                name="assessments_challengeset_export",
            ),
            path(
                "<int:object_id>/preview/",
                view(admin_views.preview_view(self)),
                name="assessments_challengeset_preview",
            ),
            path(
                "<int:object_id>/versions/<int:number>/preview/",
                view(admin_views.version_preview_view(self)),
                name="assessments_challengeset_version_preview",
            ),
            # Pages other features hang on a set (reports: its analytics), registered by them
            # so authoring does not import the features above it.
            *(
                path(route, view(factory(self)), name=name)
                for route, factory, name in self.object_pages
            ),
            *super().get_urls(),
        ]

    def history_view(self, request, object_id, extra_context=None):
        return admin_views.history_view(self)(request, object_id)

    # --- actions -------------------------------------------------------------------------
    @admin.action(description=_("Publish selected sets"), permissions=["change"])
    def publish_selected(self, request, queryset):
        # Keys are proven by running code, on the workers: each set gets a key check that
        # publishes it when it passes.
        for challenge_set in queryset:
            problems = check_challenges_valid(challenge_set)
            if problems:
                messages.error(
                    request, f"{challenge_set.title}: publishing refused: {'; '.join(problems)}"
                )
                continue
            check = key_check_start(
                challenge_set=challenge_set, purpose=KeyCheck.Purpose.PUBLISH, actor=request.user
            )
            url = reverse(
                "admin:assessments_challengeset_key_check", args=[challenge_set.pk, check.public_id]
            )
            messages.info(
                request,
                format_html(
                    '{}: verifying answer keys, then publishing. <a href="{}">Follow it</a>.',
                    challenge_set.title,
                    url,
                ),
            )

    @admin.action(description=_("Duplicate selected sets"), permissions=["add"])
    def duplicate_selected(self, request, queryset):
        for challenge_set in queryset:
            try:
                copy = challenge_set_duplicate(challenge_set=challenge_set, actor=request.user)
            except ValidationError as exc:
                messages.error(request, f"{challenge_set.title}: {' '.join(exc.messages)}")
            else:
                messages.success(request, f"Duplicated as {copy.title} ({copy.slug}).")

    @admin.action(description=_("Archive selected sets"), permissions=["change"])
    def archive_selected(self, request, queryset):
        for challenge_set in queryset:
            challenge_set_archive(challenge_set=challenge_set, actor=request.user)
        messages.success(request, _("Archived %(n)d set(s).") % {"n": queryset.count()})
