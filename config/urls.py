"""URL map: admin, accounts, candidate pages, badges, the API, the health check."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from assessments.badge_views import badge_detail
from assessments.report_views import report_shared
from config.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/login/", RedirectView.as_view(url="/admin/login/", query_string=True)),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include("assessments.api.urls")),
    path("greenhouse/", include("assessments.api.greenhouse_urls")),
    path("t/", include("assessments.candidate_urls")),
    path("badges/<uuid:public_id>/", badge_detail, name="badge-detail"),
    path("", include("assessments.badge_urls")),
    path("reports/<str:token>/", report_shared, name="report-shared"),
    path("healthz", healthz, name="healthz"),
]
