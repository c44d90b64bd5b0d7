"""The report a member shares by link: /reports/<token>/, readable without an account."""

from django.urls import path

from assessments.reports import views

urlpatterns = [
    path("reports/<str:token>/", views.report_shared, name="report-shared"),
]
