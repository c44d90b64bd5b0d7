"""The authoring admin for single challenges: fields, options and the rendered preview."""

from __future__ import annotations

import yaml
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import TenantAdmin, TenantInline
from assessments.authoring.admin_grading import (
    FORMAT_GROUPS,
    GradingConfigFields,
    answer_format_help,
    config_from_fields,
    field_of_error,
    initial_from_config,
    validate_without_options,
)
from assessments.authoring.content import (
    ContentError,
    dump_yaml,
    misconceptions_parse,
    variable_option_specs,
    variable_problems,
)
from assessments.authoring.models import Challenge, ChallengeOption, ChallengeSet
from assessments.authoring.rendering import highlight_python, render_markdown
from assessments.authoring.services import challenge_set_refresh_draft_hash
from assessments.core.choices import CHOICE_FORMATS, FORMATS_BY_KIND
from grading.formats import ConfigError, OptionSpec, validate_variable_grading_config

NEW_OPTION_ROWS = 4
# Marks a challenge page opened from its set: saving it returns there.
FROM_SET = "from_set"


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
        if challenge.is_variable:
            if specs:
                raise ValidationError(
                    _(
                        "A variable question's options are computed for each candidate (the "
                        "executed key and one per misconception): delete these rows."
                    )
                )
            return
        if challenge.answer_format not in CHOICE_FORMATS:
            # The challenge's form validated its configuration, beside the fields.
            if specs:
                raise ValidationError(
                    _("A %(format)s question has no options: delete them or pick a choice format.")
                    % {"format": challenge.get_answer_format_display().lower()}
                )
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

    def get_extra(self, request, obj=None, **kwargs) -> int:
        # Rows ready for a new question, or for a choice question that has none yet.
        if obj is None or (obj.answer_format in CHOICE_FORMATS and not obj.options.exists()):
            return NEW_OPTION_ROWS
        return 0

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("widgets", {"text": forms.Textarea(attrs={"rows": 3, "cols": 70})})
        return super().get_formset(request, obj, **kwargs)


class MisconceptionsField(forms.CharField):
    """A variable question's misconceptions, edited as a YAML list of {label, code|text}."""

    widget = forms.Textarea(attrs={"rows": 8, "cols": 90, "class": "code-input"})

    def __init__(self, *, encoder=None, decoder=None, **kwargs):
        # The model's JSONField offers its JSON encoder and decoder; YAML text needs neither.
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            # As an author writes them: label first, and only the one of code and text used.
            items = [
                {key: item[key] for key in ("label", "code", "text") if item.get(key)}
                if isinstance(item, dict)
                else item
                for item in value
            ]
            return dump_yaml(items).rstrip() if items else ""
        return value

    def to_python(self, value) -> list[dict[str, str]]:
        text = super().to_python(value)
        if not text.strip():
            return []
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValidationError(
                _("Not valid YAML: %(problem)s") % {"problem": getattr(exc, "problem", None) or exc}
            ) from exc
        try:
            return misconceptions_parse(raw)
        except ContentError as exc:
            raise ValidationError(exc.problems) from exc

    def has_changed(self, initial, data) -> bool:
        try:
            return self.to_python(data) != (initial or [])
        except ValidationError:
            return True


class ChallengeForm(GradingConfigFields, forms.ModelForm):
    """A challenge; its grading configuration is edited through the fields of its format."""

    class Meta:
        model = Challenge
        fields = (
            "challenge_set", "position", "kind", "title", "difficulty", "time_limit",
            "max_attempts", "points", "prompt", "code", "hint", "explanation", "answer_format",
            "grading_config", "variables", "misconceptions",
        )  # fmt: skip
        field_classes = {"misconceptions": MisconceptionsField}
        widgets = {
            "prompt": forms.Textarea(attrs={"rows": 5, "cols": 90}),
            "code": forms.Textarea(
                attrs={"rows": 10, "cols": 90, "class": "code-input", "spellcheck": "false"}
            ),
            "hint": forms.Textarea(attrs={"rows": 2, "cols": 90}),
            "explanation": forms.Textarea(attrs={"rows": 4, "cols": 90}),
            "variables": forms.Textarea(
                attrs={"rows": 8, "cols": 90, "class": "code-input", "spellcheck": "false"}
            ),
        }
        labels = {"grading_config": _("Grading config (JSON)")}
        help_texts = {
            "variables": _(
                "Python run in the sandbox per candidate; its names fill {{ name }} in the "
                "prompt, code, hint and explanation. Empty for a fixed question."
            ),
            "misconceptions": _(
                "YAML list; each item has a label and either code (a program whose output is a "
                "wrong option) or text (a template). Example:<br><code>- label: forgot eval()"
                "<br>&nbsp;&nbsp;code: print(x.mean())</code>"
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "answer_format" in self.fields:
            self.fields["answer_format"].help_text = answer_format_help()
        if self.instance.pk:
            saved = initial_from_config(self.instance.answer_format, self.instance.grading_config)
            for name, value in saved.items():
                self.initial.setdefault(name, value)

    def clean(self):
        cleaned = super().clean()
        answer_format = cleaned.get("answer_format") or next(
            iter(FORMATS_BY_KIND.get(cleaned.get("kind"), ())), ""
        )
        if not answer_format or "grading_config" in self.errors:
            return cleaned
        variables = cleaned.get("variables") or ""
        misconceptions = cleaned.get("misconceptions") or []
        for problem in variable_problems(
            kind=cleaned.get("kind") or "",
            answer_format=answer_format,
            variables=variables,
            misconceptions=misconceptions,
            has_options=False,  # the options inline checks its own rows
        ):
            field = "misconceptions" if "misconception" in problem else "variables"
            self.add_error(field, problem[:1].upper() + problem[1:] + ".")
        raw = bool(cleaned.get("use_raw_json"))
        submitted = cleaned.get("grading_config") or {}
        try:
            config = submitted if raw else config_from_fields(answer_format, cleaned, submitted)
            if variables.strip():
                specs = variable_option_specs(misconceptions, answer_format)
                config = validate_variable_grading_config(answer_format, config, specs)
            else:
                config = validate_without_options(answer_format, config)
            cleaned["grading_config"] = config
        except ConfigError as exc:
            message = exc.message[:1].upper() + exc.message[1:] + "."
            if raw or field_of_error(exc, raw=raw) == "grading_config":
                message = f"{exc.field}: {message}"
            self.add_error(field_of_error(exc, raw=raw), message)
        return cleaned


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
        (
            _("Variables (per-candidate variants)"),
            {
                "fields": ("variables", "misconceptions"),
                "description": _(
                    "With variables, each candidate gets their own variant: its options are "
                    "computed by running the key and each misconception, so the question has "
                    "no option rows to edit. See them under Preview variants."
                ),
            },
        ),
        (_("Answer"), {"fields": ("answer_format",)}),
        # One group of grading fields per answer format (the page's script shows only the
        # chosen format's; without it every group shows, each saying which format it is for).
        *(
            (title, {"fields": fields, "classes": ("grading-fields", *classes)})
            for title, fields, classes in FORMAT_GROUPS
        ),
        (
            _("Grading config as JSON (advanced)"),
            {"fields": ("use_raw_json", "grading_config"), "classes": ("collapse",)},
        ),
        (_("Preview"), {"fields": ("preview",)}),
    )
    readonly_fields = ("preview",)
    inlines = [OptionInline]
    change_form_template = "admin/assessments/challenge/change_form.html"

    class Media:
        js = ("js/authoring.js",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(option_count=Count("options"))

    def get_inline_instances(self, request, obj=None):
        # A variable question's options are computed per candidate: no rows to edit.
        if obj is not None and obj.is_variable:
            return []
        return super().get_inline_instances(request, obj)

    @admin.display(description=_("options"), ordering="option_count")
    def option_count(self, obj) -> int:
        return obj.option_count

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("time_limit", 120)
        initial.setdefault("max_attempts", 2)
        challenge_set = self._set_from_request(request)
        if challenge_set is not None:
            last = challenge_set.challenges.aggregate(last=Max("position"))["last"]
            initial.setdefault("position", (last or 0) + 1)
        else:
            initial.setdefault("position", 1)
        return initial

    def _set_from_request(self, request) -> ChallengeSet | None:
        set_id = request.GET.get("challenge_set", "")
        if not set_id.isdigit():
            return None
        return ChallengeSet.objects.filter(pk=int(set_id)).first()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        from_set = (
            FROM_SET in request.GET
            or FROM_SET in request.POST
            or (object_id is None and "challenge_set" in request.GET)
        )
        extra_context["from_set"] = from_set
        extra_context["parent_set"] = self._set_from_request(request) if object_id is None else None
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _back_to_set(self, request, obj):
        """Return to the challenge's set after a plain Save, when opened from the set."""
        stays = {"_continue", "_addanother", "_saveasnew", "_popup"} & set(request.POST)
        if FROM_SET not in request.POST or stays:
            return None
        self.message_user(request, _("Saved “%(title)s”.") % {"title": obj.title}, messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:assessments_challengeset_change", args=[obj.challenge_set_id])
        )

    def response_add(self, request, obj, post_url_continue=None):
        return self._back_to_set(request, obj) or super().response_add(
            request, obj, post_url_continue
        )

    def response_change(self, request, obj):
        return self._back_to_set(request, obj) or super().response_change(request, obj)

    @admin.display(description=_("as the candidate sees it"))
    def preview(self, obj: Challenge) -> str:
        if obj is None or obj.pk is None:
            return _("Save to see the preview.")
        if obj.is_variable:
            url = reverse("admin:assessments_challengeset_variants", args=[obj.challenge_set_id])
            return format_html(
                "<p>{}</p><p><a class='button' href='{}'>{}</a></p>",
                _(
                    "Each candidate gets their own variant: the prompt, code and options are "
                    "drawn from the variables when the candidate starts."
                ),
                url,
                _("Preview variants"),
            )
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
