"""The shared report: a signed, expiring link opens one candidate's report, read-only."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.tenancy import tenant_context
from assessments.reports.selectors import report_build
from assessments.reports.share_links import report_share_resolve


@require_GET
@never_cache
def report_shared(request, token: str) -> HttpResponse:
    invitation = report_share_resolve(token)
    if invitation is None:
        return render(
            request,
            "assessments/take/refused.html",
            {"message": "This report link is not valid or has expired; ask for a new one."},
            status=404,
        )
    with tenant_context(invitation.organization_id):
        context = report_build(invitation, now=timezone.now())
    response = render(request, "assessments/report/shared.html", context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
