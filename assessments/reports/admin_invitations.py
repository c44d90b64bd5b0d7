"""The invitations admin as members use it: with each candidate's session, report and the
results CSV (``InvitationAdmin`` of ``assessments.invitations.admin``, registered here)."""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.admin_site import ReadOnlyTenantInline
from assessments.authoring.models import ChallengeSet
from assessments.invitations.admin import InvitationAdmin
from assessments.invitations.models import Invitation
from assessments.reports.selectors import report_build, results_csv_lines
from assessments.reports.share_links import report_share_url
from assessments.taking.models import IntegritySignal, QuestionState


class QuestionStateInline(ReadOnlyTenantInline, admin.TabularInline):
    model = QuestionState
    fields = (
        "position",
        "challenge",
        "opened_at",
        "deadline",
        "attempts_used",
        "max_attempts",
        "hint_revealed_at",
        "closed_reason",
        "correct",
        "score",
    )


class IntegritySignalInline(ReadOnlyTenantInline, admin.TabularInline):
    model = IntegritySignal
    fields = ("at", "kind", "question", "detail")


@admin.register(Invitation)
class InvitationResultsAdmin(InvitationAdmin):
    list_display = (*InvitationAdmin.list_display, "report_link")
    inlines = (QuestionStateInline, IntegritySignalInline)
    fields = ("report_link", *InvitationAdmin.fields)
    readonly_fields = fields

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export.csv", view(self.export_view), name="assessments_invitation_export"),
            path(
                "<int:object_id>/report/",
                view(self.report_view),
                name="assessments_invitation_report",
            ),
            *super().get_urls(),
        ]

    def report_view(self, request, object_id):
        """The candidate's report: score, each question, answers, signals, timeline."""
        invitation = self.get_object(request, object_id)
        now = timezone.now()
        share_url, share_expires = report_share_url(invitation, now=now)
        context = {
            **self.admin_site.each_context(request),
            **report_build(invitation, now=now),
            "opts": self.opts,
            "title": _("Report"),
            "share_url": share_url,
            "share_expires": share_expires,
        }
        return render(request, "admin/assessments/invitation/report.html", context)

    def export_view(self, request):
        """Every result of a set (``?challenge_set=<id>``) or of all sets, as CSV."""
        invitations = self.get_queryset(request).order_by("created_at", "id")
        set_id = request.GET.get("challenge_set")
        name = "results"
        if set_id is not None:
            challenge_set = ChallengeSet.objects.filter(pk=_int_or_none(set_id)).first()
            if challenge_set is None:
                raise Http404("No such challenge set")
            invitations = invitations.filter(version__challenge_set=challenge_set)
            name = f"results-{challenge_set.slug}"
        # Built here, inside the request's tenant context (a streamed body would be read
        # after the view returned, outside it).
        body = "".join(results_csv_lines(invitations, now=timezone.now()))
        response = HttpResponse(body, content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response

    @admin.display(description=_("report"))
    def report_link(self, obj: Invitation) -> str:
        if obj.status == Invitation.Status.INVITED:
            return "—"
        url = reverse("admin:assessments_invitation_report", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Report"))


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
