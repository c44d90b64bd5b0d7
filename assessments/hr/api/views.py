"""API views: assessments, invitations, results. Every view runs in the calling key's
organization; another organization's objects are 404, exactly like missing ones."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from assessments.authoring.models import ChallengeSet, PublishedChallenge
from assessments.authoring.selectors import latest_published_versions
from assessments.hr.api.base import ApiView, CreatedCursorPagination
from assessments.hr.api.errors import Conflict
from assessments.hr.api.idempotency import HEADER, idempotent
from assessments.hr.api.serializers import (
    AssessmentFilterSerializer,
    AssessmentPageSerializer,
    AssessmentSerializer,
    CancelSerializer,
    ErrorSerializer,
    InvitationCreateSerializer,
    InvitationFilterSerializer,
    InvitationPageSerializer,
    InvitationSerializer,
    ResultSerializer,
)
from assessments.invitations.models import Invitation
from assessments.invitations.services import Candidate, invitation_cancel, invitations_create
from assessments.reports.results import invitation_result


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Return the schema's documented error answers for ``codes``."""
    described = {
        400: "The request is not valid (see `error.fields`); unknown fields are refused.",
        401: "No API key, or a key that is not valid or was revoked.",
        404: "No such object in your organization.",
        409: "The request conflicts with the current state (e.g. the assessment is archived).",
        422: f"The {HEADER} was already used with a different request.",
        429: (
            "Too many requests for this key, or too many failed authentications from this "
            "address: wait `Retry-After` seconds."
        ),
    }
    return {code: OpenApiResponse(ErrorSerializer, description=described[code]) for code in codes}


IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": 255},
    location=OpenApiParameter.HEADER,
    description=(
        "Makes retries safe: the same key with the same request returns the first answer "
        "again (with `Idempotent-Replayed: true`); with another request, 422; while the "
        "first request is still being processed, 409. 1 to 255 characters."
    ),
)


def _latest_versions(*, include_archived: bool = False):
    """The latest version of every published (and, if asked, archived) set, with its
    challenges (2 queries)."""
    return latest_published_versions(include_archived=include_archived).prefetch_related(
        Prefetch(
            "challenges",
            queryset=PublishedChallenge.objects.only(
                "id", "version_id", "difficulty", "kind", "time_limit"
            ),
        )
    )


class AssessmentPagination(CreatedCursorPagination):
    ordering = ("-published_at", "-id")


class AssessmentListView(ApiView):
    @extend_schema(
        operation_id="assessments_list",
        summary="List the assessments candidates can be invited to",
        description=(
            "Published assessments, most recently published first, at their latest version. "
            "Archived ones are left out unless `include_archived=true`. Follow `next` to "
            "page (`page_size` 1 to 200)."
        ),
        parameters=[AssessmentFilterSerializer],
        responses={200: AssessmentPageSerializer, **error_responses(400, 401, 429)},
        tags=["assessments"],
    )
    def get(self, request):
        filters = AssessmentFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        rows = _latest_versions(include_archived=filters.validated_data["include_archived"])
        paginator = AssessmentPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(AssessmentSerializer(page, many=True).data)


class AssessmentDetailView(ApiView):
    @extend_schema(
        operation_id="assessments_retrieve",
        summary="One assessment",
        description=(
            "The assessment with this id, at its latest published version; an archived one "
            "too (`status: archived`), since its invitations and results still name it."
        ),
        responses={200: AssessmentSerializer, **error_responses(401, 404, 429)},
        tags=["assessments"],
    )
    def get(self, request, assessment_id):
        version = get_object_or_404(
            _latest_versions(include_archived=True), challenge_set__public_id=assessment_id
        )
        return Response(AssessmentSerializer(version).data)


def _invitations():
    return Invitation.objects.select_related("version__challenge_set")


def _invitation(invitation_id) -> Invitation:
    return get_object_or_404(_invitations(), public_id=invitation_id)


CREATE_EXAMPLE = {
    "assessment": "6f1c2f9e-3f0e-4a5c-9a55-1d0e2b7c8a11",
    "candidate": {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "external_id": "greenhouse-4521",
    },
    "time_multiplier": "1.00",
    "send_email": True,
}


class InvitationListView(ApiView):
    @extend_schema(
        operation_id="invitations_list",
        summary="List invitations, newest first (cursor pagination)",
        description=(
            "Invitations of your organization, newest first, optionally filtered. Follow "
            "`next` to page (`page_size` 1 to 200); unknown parameters are refused."
        ),
        parameters=[InvitationFilterSerializer],
        responses={200: InvitationPageSerializer, **error_responses(400, 401, 429)},
        tags=["invitations"],
    )
    def get(self, request):
        filters = InvitationFilterSerializer(data=request.query_params.dict())
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        rows = _invitations()
        if "status" in wanted:
            rows = rows.filter(status=wanted["status"])
        if "assessment" in wanted:
            rows = rows.filter(version__challenge_set__public_id=wanted["assessment"])
        if "external_id" in wanted:
            rows = rows.filter(external_id=wanted["external_id"])
        if "updated_since" in wanted:
            rows = rows.filter(updated_at__gte=wanted["updated_since"])
        paginator = CreatedCursorPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(InvitationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="invitations_create",
        summary="Invite a candidate",
        description=(
            "Create an invitation and, unless `send_email` is false, email the candidate "
            f"their link. Send an `{HEADER}` header to make retries safe."
        ),
        parameters=[IDEMPOTENCY_KEY],
        request=InvitationCreateSerializer,
        responses={201: InvitationSerializer, **error_responses(400, 401, 409, 422, 429)},
        examples=[OpenApiExample("Invite Ada", value=CREATE_EXAMPLE, request_only=True)],
        tags=["invitations"],
    )
    def post(self, request):
        return idempotent(request, self.api_key, lambda: self._create(request))

    def _create(self, request) -> Response:
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = (
            _latest_versions(include_archived=True)
            .filter(challenge_set__public_id=data["assessment"])
            .first()
        )
        if version is None:
            raise ValidationError({"assessment": ["No published assessment with this id."]})
        if version.challenge_set.status == ChallengeSet.Status.ARCHIVED:
            raise Conflict("The assessment is archived: it takes no new invitations.")
        try:
            (invitation,) = invitations_create(
                version=version,
                candidates=[Candidate(**data["candidate"])],
                actor=None,
                expires_at=data.get("expires_at"),
                time_multiplier=data["time_multiplier"],
                send_email=data["send_email"],
            )
        except DjangoValidationError as exc:
            if "Already invited" in " ".join(exc.messages):
                raise Conflict(" ".join(exc.messages)) from exc
            raise ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from exc
        invitation = _invitation(invitation.public_id)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailView(ApiView):
    @extend_schema(
        operation_id="invitations_retrieve",
        summary="One invitation",
        description="The invitation with this id and where it stands.",
        responses={200: InvitationSerializer, **error_responses(401, 404, 429)},
        tags=["invitations"],
    )
    def get(self, request, invitation_id):
        return Response(InvitationSerializer(_invitation(invitation_id)).data)


class InvitationCancelView(ApiView):
    @extend_schema(
        operation_id="invitations_cancel",
        summary="Cancel an invitation that is not finished",
        description=(
            "The candidate's link stops working at once. An invitation that is completed, "
            "expired or already cancelled cannot be cancelled (409)."
        ),
        request=CancelSerializer,
        responses={200: InvitationSerializer, **error_responses(400, 401, 404, 409, 422, 429)},
        parameters=[IDEMPOTENCY_KEY],
        tags=["invitations"],
    )
    def post(self, request, invitation_id):
        invitation = _invitation(invitation_id)
        CancelSerializer(data=request.data or {}).is_valid(raise_exception=True)
        return idempotent(request, self.api_key, lambda: self._cancel(invitation))

    def _cancel(self, invitation: Invitation) -> Response:
        if not invitation_cancel(invitation=invitation, actor=None):
            invitation.refresh_from_db()
            raise Conflict(f"The invitation is {invitation.status} and cannot be cancelled.")
        return Response(InvitationSerializer(_invitation(invitation.public_id)).data)


class InvitationResultView(ApiView):
    @extend_schema(
        operation_id="invitations_result",
        summary="The candidate's result: score, each challenge, integrity signals",
        description=(
            "Available at any time; `score` is final once `status` is `completed`. "
            "`report_url` is a public signed link that expires."
        ),
        responses={200: ResultSerializer, **error_responses(401, 404, 429)},
        tags=["invitations"],
    )
    def get(self, request, invitation_id):
        result = invitation_result(_invitation(invitation_id), now=timezone.now())
        return Response(ResultSerializer(result).data)
