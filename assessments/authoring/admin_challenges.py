"""The authoring admin for single challenges: fields, options and the rendered preview."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import TenantAdmin, TenantInline
from assessments.authoring.models import Challenge, ChallengeOption, ChallengeSet
from assessments.authoring.rendering import highlight_python, render_markdown
from assessments.authoring.services import challenge_set_refresh_draft_hash
from assessments.core.choices import FORMATS_BY_KIND
from grading.formats import OptionSpec


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
