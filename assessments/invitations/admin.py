"""The admin for candidate invitations: invite one or many, follow their status, cancel."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_site import TenantAdmin
from assessments.authoring.models import ChallengeSet, ChallengeSetVersion
from assessments.invitations.models import TIME_MULTIPLIER_RANGE, Invitation
from assessments.invitations.services import (
    MAX_CANDIDATES_PER_BATCH,
    candidates_parse,
    invitation_cancel,
    invitation_resend,
    invitations_create,
)

MAX_CSV_BYTES = 1024 * 1024


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ChallengeSetVersion) -> str:
        return f"{obj.title} — version {obj.number} ({obj.published_at:%Y-%m-%d})"


class InviteForm(forms.Form):
    version = VersionChoiceField(
        label=_("Challenge set"), queryset=ChallengeSetVersion.objects.none()
    )
    candidates = forms.CharField(
        label=_("Candidates"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text=_(
            "One per line: email, first name, last name, external id (only the email is "
            "required). A first line naming the columns, as in a CSV export, is understood."
        ),
    )
    csv_file = forms.FileField(label=_("…or a CSV file"), required=False)
    expires_at = forms.DateTimeField(
        label=_("Link valid until"),
        required=False,
        help_text=_("UTC, e.g. 2026-12-31 18:00. Empty: %(days)d days from now.")
        % {"days": settings.CANDIDATE_INVITATION_DAYS},
    )
    time_multiplier = forms.DecimalField(
        label=_("Time multiplier"),
        initial=Decimal("1.00"),
        min_value=TIME_MULTIPLIER_RANGE[0],
        max_value=TIME_MULTIPLIER_RANGE[1],
        decimal_places=2,
        help_text=_("Scales every timer, e.g. 1.5 for an accessibility accommodation."),
    )
    send_email = forms.BooleanField(label=_("Email each candidate their link"), required=False)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = (
            ChallengeSetVersion.objects.filter(organization=organization)
            .exclude(challenge_set__status=ChallengeSet.Status.ARCHIVED)
            .order_by("title", "-number")
        )
        self.fields["send_email"].initial = True

    def clean(self):
        cleaned = super().clean()
        text = cleaned.get("candidates", "")
        upload = cleaned.get("csv_file")
        if upload is not None:
            if upload.size > MAX_CSV_BYTES:
                raise ValidationError(_("The CSV file is larger than 1 MB."))
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise ValidationError(_("The CSV file is not UTF-8 text.")) from exc
        if not text.strip():
            raise ValidationError(_("Paste candidates or choose a CSV file."))
        cleaned["parsed"] = candidates_parse(text)
        expires_at = cleaned.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            self.add_error("expires_at", _("The expiry must be in the future."))
        return cleaned


class InvitationAdmin(TenantAdmin):
    """Invitations are written by the invite form and the rules; here they are followed.

    Registered by ``assessments.reports.admin`` (``InvitationResultsAdmin``), which adds
    the session, the report and the results CSV: those belong to the features above this one.
    """

    list_display = (
        "candidate",
        "email",
        "version",
        "status",
        "time_multiplier",
        "created_at",
        "completed_at",
        "result",
    )
    list_filter = ("status", "version__challenge_set")
    search_fields = ("email", "first_name", "last_name", "external_id")
    list_select_related = ("version",)
    date_hierarchy = "created_at"
    actions = ("cancel_selected", "resend_selected")
    fields = (
        "candidate_link",
        "version",
        "email",
        "first_name",
        "last_name",
        "external_id",
        "status",
        "time_multiplier",
        "expires_at",
        "email_sent_at",
        "started_at",
        "deadline",
        "completed_at",
        "cancelled_at",
        "result",
        "start_ip",
        "start_user_agent",
    )
    readonly_fields = fields

    @admin.display(description=_("candidate"), ordering="last_name")
    def candidate(self, obj: Invitation) -> str:
        return obj.full_name

    @admin.display(description=_("result"))
    def result(self, obj: Invitation) -> str:
        if obj.score is None or not obj.max_score:
            return "—"
        return f"{obj.score:g} / {obj.max_score:g} ({100 * obj.score / obj.max_score:.0f}%)"

    @admin.display(description=_("candidate link"))
    def candidate_link(self, obj: Invitation) -> str:
        url = settings.SITE_URL + obj.candidate_path()
        return format_html('<a href="{}">{}</a>', url, url)

    def has_change_permission(self, request, obj=None) -> bool:
        # Nothing is edited by hand: the rules change an invitation; actions cancel or resend.
        return obj is None and self.can_edit(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # results are history; cancel instead

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("invite/", view(self.invite_view), name="assessments_invitation_invite"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:assessments_invitation_invite"))

    def invite_view(self, request):
        """Invite one or many candidates to a published version."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = InviteForm(
            request.POST or None, request.FILES or None, organization=request.organization
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                invitations = invitations_create(
                    version=data["version"],
                    candidates=data["parsed"],
                    actor=request.user,
                    expires_at=data.get("expires_at"),
                    time_multiplier=data["time_multiplier"],
                    send_email=data["send_email"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Invited %(n)d candidate to %(set)s.",
                        "Invited %(n)d candidates to %(set)s.",
                        len(invitations),
                    )
                    % {"n": len(invitations), "set": data["version"]},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:assessments_invitation_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Invite candidates"),
            "form": form,
            "max_candidates": MAX_CANDIDATES_PER_BATCH,
        }
        return render(request, "admin/assessments/invitation/invite.html", context)

    @admin.action(description=_("Cancel selected invitations"), permissions=["add"])
    def cancel_selected(self, request, queryset):
        cancelled = sum(
            invitation_cancel(invitation=invitation, actor=request.user) for invitation in queryset
        )
        skipped = queryset.count() - cancelled
        self.message_user(request, _("Cancelled %(n)d invitation(s).") % {"n": cancelled})
        if skipped:
            self.message_user(
                request,
                _("%(n)d were already finished and were left as they are.") % {"n": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Send the invitation email again"), permissions=["add"])
    def resend_selected(self, request, queryset):
        sent = 0
        for invitation in queryset:
            try:
                invitation_resend(invitation=invitation)
            except ValidationError:
                continue
            sent += 1
        self.message_user(request, _("Queued %(n)d email(s).") % {"n": sent})
