"""The authoring admin's own pages: import, export, publish, preview, history.

Each factory takes the ``ChallengeSetAdmin`` so that objects are looked up through its
scoped queryset: another organization's set is a 404, like a missing one.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.models import AuditEvent
from assessments.authoring.content import ContentError
from assessments.authoring.key_checks import key_check_start
from assessments.authoring.models import ChallengeSet, ChallengeSetVersion, KeyCheck
from assessments.authoring.publishing import check_challenges_valid
from assessments.authoring.rendering import highlight_python, render_markdown
from assessments.authoring.selectors import key_check_coverage, version_challenges
from assessments.authoring.services import (
    challenge_set_archive,
    challenge_set_duplicate,
    challenge_set_export_yaml,
    challenge_set_import,
    challenge_set_restore,
)
from assessments.core.choices import KIND_ICONS


def _admin_context(model_admin, request, **extra) -> dict:
    """Return the context every admin page needs (site, options) plus ``extra``."""
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        **extra,
    }


def _get_set(model_admin, request, object_id) -> ChallengeSet:
    return get_object_or_404(model_admin.get_queryset(request), pk=object_id)


def _change_url(challenge_set: ChallengeSet) -> str:
    return reverse("admin:assessments_challengeset_change", args=[challenge_set.pk])


def _require_edit(model_admin, request) -> None:
    if not model_admin.has_change_permission(request):
        raise PermissionDenied


class ImportForm(forms.Form):
    file = forms.FileField(label=_("YAML file"), required=False)
    text = forms.CharField(
        label=_("…or paste YAML"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "cols": 100}),
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("file") and not cleaned.get("text", "").strip():
            raise forms.ValidationError(_("Choose a file or paste its content."))
        return cleaned


def import_view(model_admin):
    def view(request):
        _require_edit(model_admin, request)
        form = ImportForm(request.POST or None, request.FILES or None)
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data.get("file")
            text = upload.read() if upload else form.cleaned_data["text"]
            try:
                challenge_set, created = challenge_set_import(
                    organization=request.organization, text=text, actor=request.user
                )
            except ContentError as exc:
                problems = exc.problems
            else:
                verb = _("Imported new set") if created else _("Updated the draft of")
                messages.success(request, f"{verb} {challenge_set.title}.")
                return HttpResponseRedirect(_change_url(challenge_set))
        context = _admin_context(
            model_admin,
            request,
            title=_("Import a challenge set"),
            form=form,
            problems=problems,
        )
        return render(
            request,
            "admin/assessments/challengeset/import.html",
            context,
            status=400 if problems else 200,
        )

    return view


def export_view(model_admin):
    def view(request, object_id):
        challenge_set = _get_set(model_admin, request, object_id)
        response = HttpResponse(
            challenge_set_export_yaml(challenge_set), content_type="application/yaml; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{challenge_set.slug}.yaml"'
        return response

    return view


def _refused(request, model_admin, challenge_set, problems):
    context = _admin_context(
        model_admin,
        request,
        title=_("Publishing refused"),
        original=challenge_set,
        problems=problems,
    )
    return render(
        request, "admin/assessments/challengeset/publish_refused.html", context, status=409
    )


def _key_check_view(model_admin, purpose):
    """Start a key check (publish or verify) on the workers; show its page, which refreshes."""

    @require_POST
    def view(request, object_id):
        _require_edit(model_admin, request)
        challenge_set = _get_set(model_admin, request, object_id)
        if purpose == KeyCheck.Purpose.PUBLISH:
            # Cheap checks first, here; running code happens on a worker, never in a request.
            problems = check_challenges_valid(challenge_set)
            if challenge_set.status == ChallengeSet.Status.ARCHIVED:
                problems.insert(0, "The set is archived; restore it before publishing.")
            if problems:
                return _refused(request, model_admin, challenge_set, problems)
        check = key_check_start(challenge_set=challenge_set, purpose=purpose, actor=request.user)
        url = reverse(
            "admin:assessments_challengeset_key_check", args=[challenge_set.pk, check.public_id]
        )
        return HttpResponseRedirect(url)

    return view


def publish_view(model_admin):
    return _key_check_view(model_admin, KeyCheck.Purpose.PUBLISH)


def verify_keys_view(model_admin):
    return _key_check_view(model_admin, KeyCheck.Purpose.VERIFY)


def key_check_view(model_admin):
    def view(request, object_id, check_id):
        challenge_set = _get_set(model_admin, request, object_id)
        check = get_object_or_404(
            KeyCheck.objects.select_related("version"),
            challenge_set=challenge_set,
            public_id=check_id,
        )
        context = _admin_context(
            model_admin,
            request,
            title=check.get_purpose_display(),
            original=challenge_set,
            check=check,
            running=check.status == KeyCheck.Status.RUNNING,
            coverage=key_check_coverage(check),
            # Publishing an unchanged draft keeps the latest version, published before this
            # check was asked for: say nothing changed rather than "Published version N".
            unchanged=check.version is not None and check.version.published_at < check.requested_at,
        )
        status = 409 if check.status == KeyCheck.Status.REFUSED else 200
        template = "admin/assessments/challengeset/key_check.html"
        return render(request, template, context, status=status)

    return view


def _lifecycle_view(model_admin, service, message):
    @require_POST
    def view(request, object_id):
        _require_edit(model_admin, request)
        challenge_set = _get_set(model_admin, request, object_id)
        result = service(challenge_set=challenge_set, actor=request.user)
        messages.success(request, message.format(title=result.title))
        return HttpResponseRedirect(_change_url(result))

    return view


def duplicate_view(model_admin):
    return _lifecycle_view(model_admin, challenge_set_duplicate, "Created the copy {title}.")


def archive_view(model_admin):
    """Ask first (a page, so it works without JavaScript); archive on the confirming POST."""
    archive = _lifecycle_view(model_admin, challenge_set_archive, "Archived {title}.")

    def view(request, object_id):
        if request.method == "POST":
            return archive(request, object_id)
        _require_edit(model_admin, request)
        challenge_set = _get_set(model_admin, request, object_id)
        if challenge_set.status == ChallengeSet.Status.ARCHIVED:
            return HttpResponseRedirect(_change_url(challenge_set))
        context = _admin_context(
            model_admin,
            request,
            title=_("Archive %(title)s?") % {"title": challenge_set.title},
            original=challenge_set,
        )
        return render(request, "admin/assessments/challengeset/archive_confirm.html", context)

    return view


def restore_view(model_admin):
    return _lifecycle_view(model_admin, challenge_set_restore, "Restored {title}.")


def _question(challenge, *, position: int, options: list[dict]) -> dict:
    """Return what the preview shows of a draft ``Challenge`` or a ``PublishedChallenge``."""
    return {
        "position": position,
        "kind": challenge.kind,
        "kind_label": challenge.get_kind_display(),
        "icon": KIND_ICONS.get(challenge.kind, "❓"),
        "title": challenge.title,
        "difficulty": challenge.get_difficulty_display(),
        "timer": f"{challenge.time_limit // 60}:{challenge.time_limit % 60:02d}",
        "max_attempts": challenge.max_attempts,
        "points": challenge.points,
        "prompt_html": render_markdown(challenge.prompt),
        "code_html": highlight_python(challenge.code) if challenge.code else "",
        "hint": challenge.hint,
        "explanation_html": render_markdown(challenge.explanation) if challenge.explanation else "",
        "options": options,
    }


def _render_preview(request, model_admin, *, heading: dict, questions: list[dict], label: str):
    context = _admin_context(
        model_admin,
        request,
        title=_("Preview as candidate"),
        set=heading,
        questions=questions,
        label=label,
        show_key=request.GET.get("key") == "1",
    )
    return render(request, "assessments/preview.html", context)


def preview_view(model_admin):
    def view(request, object_id):
        challenge_set = _get_set(model_admin, request, object_id)
        challenges = challenge_set.challenges.order_by("position", "id").prefetch_related("options")
        questions = [
            _question(
                c,
                position=n,
                options=[{"text": o.text, "correct": o.is_correct} for o in c.options.all()],
            )
            for n, c in enumerate(challenges, start=1)
        ]
        return _render_preview(
            request,
            model_admin,
            heading=_heading(challenge_set),
            questions=questions,
            label=_("Draft"),
        )

    return view


def _heading(obj) -> dict:
    return {
        "id": getattr(obj, "challenge_set_id", None) or obj.pk,
        "title": obj.title,
        "tagline": obj.tagline,
        "badge_promise": obj.badge_promise,
        "description_html": render_markdown(obj.description) if obj.description else "",
    }


def version_preview_view(model_admin):
    def view(request, object_id, number):
        challenge_set = _get_set(model_admin, request, object_id)
        version = ChallengeSetVersion.objects.filter(
            challenge_set=challenge_set, number=number
        ).first()
        if version is None:
            raise Http404("No such version")
        questions = [
            _question(c, position=c.position, options=c.options)
            for c in version_challenges(version)
        ]
        return _render_preview(
            request,
            model_admin,
            heading=_heading(version),
            questions=questions,
            label=_("Version %(n)d") % {"n": version.number},
        )

    return view


def history_view(model_admin):
    def view(request, object_id):
        challenge_set = _get_set(model_admin, request, object_id)
        events = AuditEvent.objects.filter(
            target_type=challenge_set._meta.label_lower, target_id=str(challenge_set.public_id)
        ).select_related("actor")
        context = _admin_context(
            model_admin,
            request,
            title=_("History of %(title)s") % {"title": challenge_set.title},
            original=challenge_set,
            events=events,
            versions=challenge_set.versions.order_by("-number").select_related("published_by"),
        )
        return render(request, "admin/assessments/challengeset/history.html", context)

    return view
