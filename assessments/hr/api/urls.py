"""API v1 routes. Every route must also be in the tenant isolation matrix
(tests/api/test_isolation.py), which fails when one is missing."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from assessments.hr.api import schema, views, webhooks  # noqa: F401 - schema registers an extension

app_name = "api"

urlpatterns = [
    path("assessments/", views.AssessmentListView.as_view(), name="assessments"),
    path(
        "assessments/<uuid:assessment_id>/",
        views.AssessmentDetailView.as_view(),
        name="assessment",
    ),
    path("invitations/", views.InvitationListView.as_view(), name="invitations"),
    path(
        "invitations/<uuid:invitation_id>/",
        views.InvitationDetailView.as_view(),
        name="invitation",
    ),
    path(
        "invitations/<uuid:invitation_id>/cancel/",
        views.InvitationCancelView.as_view(),
        name="invitation-cancel",
    ),
    path(
        "invitations/<uuid:invitation_id>/result/",
        views.InvitationResultView.as_view(),
        name="invitation-result",
    ),
    path("webhooks/", webhooks.WebhookListView.as_view(), name="webhooks"),
    path(
        "webhooks/<uuid:webhook_id>/",
        webhooks.WebhookDetailView.as_view(),
        name="webhook",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
