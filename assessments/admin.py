"""The authoring admin for challenge sets and challenges."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import TenantAdmin, TenantInline
from assessments import admin_views
from assessments.keys import key_check_start
from assessments.models import (
    Challenge,
    ChallengeOption,
    ChallengeSet,
    ChallengeSetVersion,
    KeyCheck,
)
from assessments.models.choices import FORMATS_BY_KIND
from assessments.publishing import check_challenges_valid
from assessments.rendering import highlight_python, render_markdown
from assessments.selectors import challenge_sets_with_summary, has_unpublished_changes
from assessments.services import (
    challenge_set_archive,
    challenge_set_duplicate,
    challenge_set_refresh_draft_hash,
    record_admin_change,
)
from grading.formats import OptionSpec


class ChallengeInline(TenantInline, admin.TabularInline):
    """The set's challenges in order; each links to its own page for prompt and options."""

    model = Challenge
    fields = ("position", "title", "kind", "difficulty", "time_limit", "max_attempts", "points")
    readonly_fields = ("title", "kind", "difficulty")
    ordering = ("position", "id")
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        # A challenge needs a prompt and options: it is added on its own page.
        return False


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

    @admin.display(description=_("unpublished changes"), boolean=True)
    def pending_changes(self, obj) -> bool:
        return has_unpublished_changes(obj)

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
        record_admin_change(
            organization=request.organization,
            actor=request.user,
            target=obj,
            created=not change,
            changed_fields=list(form.changed_data),
        )

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


class OptionInlineFormSet(BaseInlineFormSet):
    """Check the options together with the challenge's answer format and grading config."""

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        specs = [
            OptionSpec(
                text=form.cleaned_data["text"], correct=form.cleaned_data.get("is_correct", False)
            )
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        challenge = self.instance
        if not challenge.answer_format:
            return
        try:
            challenge.clean_with_options(specs)
        except ValidationError as exc:
            raise ValidationError([m for ms in exc.message_dict.values() for m in ms]) from exc


class OptionInline(TenantInline, admin.TabularInline):
    model = ChallengeOption
    formset = OptionInlineFormSet
    fields = ("position", "text", "is_correct")
    ordering = ("position", "id")
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("widgets", {"text": forms.Textarea(attrs={"rows": 3, "cols": 70})})
        return super().get_formset(request, obj, **kwargs)


class ChallengeForm(forms.ModelForm):
    class Meta:
        model = Challenge
        fields = (
            "challenge_set", "position", "kind", "title", "difficulty", "time_limit",
            "max_attempts", "points", "prompt", "code", "hint", "explanation", "answer_format",
            "grading_config",
        )  # fmt: skip
        widgets = {
            "prompt": forms.Textarea(attrs={"rows": 5, "cols": 90}),
            "code": forms.Textarea(
                attrs={"rows": 10, "cols": 90, "class": "code-input", "spellcheck": "false"}
            ),
            "hint": forms.Textarea(attrs={"rows": 2, "cols": 90}),
            "explanation": forms.Textarea(attrs={"rows": 4, "cols": 90}),
        }
        help_texts = {
            "answer_format": "; ".join(
                f"{kind}: {', '.join(formats)}" for kind, formats in FORMATS_BY_KIND.items()
            ),
        }


@admin.register(Challenge)
class ChallengeAdmin(TenantAdmin):
    form = ChallengeForm
    list_display = (
        "title", "challenge_set", "position", "kind", "difficulty", "time_limit", "max_attempts",
        "option_count",
    )  # fmt: skip
    list_filter = ("kind", "difficulty", "challenge_set")
    search_fields = ("title", "prompt")
    list_select_related = ("challenge_set",)
    fieldsets = (
        (None, {"fields": ("challenge_set", "position", "kind", "title", "difficulty")}),
        (_("Rules"), {"fields": ("time_limit", "max_attempts", "points")}),
        (_("Question"), {"fields": ("prompt", "code", "hint", "explanation")}),
        (_("Answer"), {"fields": ("answer_format", "grading_config")}),
        (_("Preview"), {"fields": ("preview",)}),
    )
    readonly_fields = ("preview",)
    inlines = [OptionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(option_count=Count("options"))

    @admin.display(description=_("options"), ordering="option_count")
    def option_count(self, obj) -> int:
        return obj.option_count

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("time_limit", 120)
        initial.setdefault("max_attempts", 2)
        return initial

    @admin.display(description=_("as the candidate sees it"))
    def preview(self, obj: Challenge) -> str:
        if obj is None or obj.pk is None:
            return _("Save to see the preview.")
        parts = [str(render_markdown(obj.prompt))]
        if obj.code:
            parts.append(str(highlight_python(obj.code)))
        options = obj.options.all()
        if options:
            items = "".join(
                format_html(
                    "<li><pre class='option-text'>{}</pre>{}</li>",
                    option.text,
                    format_html(" <strong>✓ {}</strong>", _("correct"))
                    if option.is_correct
                    else "",
                )
                for option in options
            )
            parts.append(f"<ol class='preview-options'>{items}</ol>")
        # Every part is already safe: sanitized Markdown, pygments output or format_html.
        return mark_safe("<div class='challenge-preview'>" + "".join(parts) + "</div>")  # noqa: S308

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        record_admin_change(
            organization=request.organization,
            actor=request.user,
            target=obj,
            created=not change,
            changed_fields=list(form.changed_data),
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The challenge and its options are saved: refresh the fingerprint of its set, and
        # of the set it left if it was moved.
        challenge = form.instance
        challenge_set_refresh_draft_hash(challenge.challenge_set)
        previous = form.initial.get("challenge_set")
        if previous and previous != challenge.challenge_set_id:
            challenge_set_refresh_draft_hash(ChallengeSet.objects.get(pk=previous))

    def delete_model(self, request, obj):
        challenge_set = obj.challenge_set
        super().delete_model(request, obj)
        challenge_set_refresh_draft_hash(challenge_set)

    def delete_queryset(self, request, queryset):
        sets = list(ChallengeSet.objects.filter(challenges__in=queryset).distinct())
        super().delete_queryset(request, queryset)
        for challenge_set in sets:
            challenge_set_refresh_draft_hash(challenge_set)
