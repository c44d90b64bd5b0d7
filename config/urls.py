"""URL map: admin, accounts, candidate pages, badges, the API, the health check."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from config.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/login/", RedirectView.as_view(url="/admin/login/", query_string=True)),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include("assessments.hr.api.urls")),
    path("greenhouse/", include("assessments.hr.greenhouse.urls")),
    path("t/", include("assessments.taking.urls")),
    path("", include("assessments.badges.urls")),
    path("", include("assessments.reports.urls")),
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on every page (the admin's too): point them at the file.
    path("favicon.ico", RedirectView.as_view(url="/static/favicon.ico", permanent=True)),
]
