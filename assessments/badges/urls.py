"""Public badge URLs: per award under /badges/<uuid>/, per organization under /issuers/<uuid>/.

Organizations are named by their public UUID, never their slug: these URLs
are signed into credentials and must not change when an organization is renamed.
"""

from django.urls import path

from assessments.badges import views

urlpatterns = [
    path("badges/<uuid:public_id>/", views.badge_detail, name="badge-detail"),
    path("badges/<uuid:public_id>/image.svg", views.award_image, name="badge-image"),
    path("badges/<uuid:public_id>/credential.jwt", views.credential_jwt, name="badge-credential"),
    path(
        "badges/<uuid:public_id>/credential.json",
        views.credential_json,
        name="badge-credential-json",
    ),
    path("badges/<uuid:public_id>/status.json", views.status, name="badge-status"),
    path("issuers/<uuid:organization_id>/", views.issuer, name="badge-issuer"),
    path("issuers/<uuid:organization_id>/jwks.json", views.issuer_jwks, name="badge-jwks"),
    path(
        "issuers/<uuid:organization_id>/revocations.json",
        views.revocations,
        name="badge-revocations",
    ),
    path(
        "issuers/<uuid:organization_id>/achievements/<uuid:set_id>/image.svg",
        views.set_image,
        name="badge-set-image",
    ),
]
