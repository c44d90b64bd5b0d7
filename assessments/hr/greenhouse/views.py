"""Greenhouse's Assessment Partner endpoints (docs/greenhouse.md): ``list_tests``,
``send_test``, ``test_status`` and ``response_error``, under ``/greenhouse/``.

Greenhouse authenticates as an organization with HTTP Basic, the organization's API key as
user name and an empty password; from there everything runs like the REST API, in that
organization's tenant context (another organization's test or interview is 404).
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework import authentication, exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_keys import api_key_authenticate
from accounts.models import ApiKey
from assessments.hr.api.auth import ApiClient
from assessments.hr.api.base import OrganizationScopedMixin
from assessments.hr.api.errors import Conflict
from assessments.hr.greenhouse.services import (
    greenhouse_application_id,
    greenhouse_callback_url_check,
    greenhouse_test_data,
    greenhouse_test_send,
    greenhouse_test_status,
    greenhouse_tests,
)
from assessments.invitations.models import Invitation
from assessments.invitations.services import Candidate

logger = logging.getLogger(__name__)

REALM = 'Basic realm="greenhouse"'


@dataclass(frozen=True)
class BasicCredentials:
    """``request.auth``: the key row, and the plain key (send_test keeps it for the PATCH)."""

    api_key: ApiKey
    plain: str


class GreenhouseBasicAuthentication(authentication.BaseAuthentication):
    """``Authorization: Basic base64("<API key>:")``: Greenhouse sends the key as the user
    name and leaves the password empty (any password is ignored)."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic" or not encoded.strip():
            raise exceptions.AuthenticationFailed("Use HTTP Basic with the API key as user name.")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise exceptions.AuthenticationFailed("The Basic credentials are malformed.") from exc
        plain = decoded.partition(":")[0].strip()
        api_key = api_key_authenticate(plain)
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        return ApiClient(api_key), BasicCredentials(api_key, plain)

    def authenticate_header(self, request) -> str:
        return REALM


class GreenhouseView(OrganizationScopedMixin, APIView):
    authentication_classes = [GreenhouseBasicAuthentication]
    # Greenhouse's contract, not the REST API's: kept out of /api/v1/schema/.
    schema = None


class ListTestsView(GreenhouseView):
    def get(self, request):
        return Response([greenhouse_test_data(version) for version in greenhouse_tests()])


class SendTestCandidateSerializer(serializers.Serializer):
    # Greenhouse may add properties at any time: unknown ones are ignored, not refused.
    first_name = serializers.CharField(max_length=150, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, allow_blank=True, default="")
    email = serializers.EmailField()
    greenhouse_profile_url = serializers.URLField(
        max_length=2000, required=False, allow_blank=True, allow_null=True
    )


class SendTestSerializer(serializers.Serializer):
    partner_test_id = serializers.CharField(max_length=100)
    candidate = SendTestCandidateSerializer()
    url = serializers.URLField(max_length=2000)

    def validate_url(self, value: str) -> str:
        try:
            greenhouse_callback_url_check(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value


class SendTestView(GreenhouseView):
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        if "candidate" not in body:
            # The documentation's table lists the candidate's fields at the top level.
            body = {**body, "candidate": body}
        serializer = SendTestSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        person = data["candidate"]
        version = get_object_or_404(
            greenhouse_tests(), challenge_set__public_id=_uuid_or_404(data["partner_test_id"])
        )
        candidate = Candidate(
            email=person["email"],
            first_name=person["first_name"],
            last_name=person["last_name"],
            external_id=greenhouse_application_id(person.get("greenhouse_profile_url") or ""),
        )
        try:
            invitation, _created = greenhouse_test_send(
                version=version,
                candidate=candidate,
                callback_url=data["url"],
                api_key=request.auth.api_key,
                plain_key=request.auth.plain,
            )
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        if invitation.version.challenge_set_id != version.challenge_set_id:
            raise Conflict("This callback URL was already used for another test.")
        return Response({"partner_interview_id": str(invitation.public_id)})


def _uuid_or_404(value: str) -> str:
    try:
        serializers.UUIDField().to_internal_value(value)
    except serializers.ValidationError as exc:
        raise exceptions.NotFound() from exc
    return value


class TestStatusView(GreenhouseView):
    def get(self, request):
        interview_id = request.query_params.get("partner_interview_id", "").strip()
        if not interview_id:
            raise serializers.ValidationError({"partner_interview_id": ["This field is required."]})
        invitation = get_object_or_404(
            Invitation.objects.select_related("version"), public_id=_uuid_or_404(interview_id)
        )
        return Response(greenhouse_test_status(invitation, now=timezone.now()))


class ResponseErrorSerializer(serializers.Serializer):
    api_call = serializers.CharField(max_length=100)
    errors = serializers.ListField(child=serializers.CharField(max_length=2000), max_length=100)


class ResponseErrorView(GreenhouseView):
    """Greenhouse reports an answer of ours it could not use; it is logged for operators."""

    def post(self, request):
        serializer = ResponseErrorSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = request.data
        logger.warning(
            "Greenhouse refused our %s answer (organization %s, test %s, interview %s): %s",
            serializer.validated_data["api_call"],
            self.organization.slug,
            body.get("partner_test_id"),
            body.get("partner_interview_id"),
            "; ".join(serializer.validated_data["errors"]),
        )
        return Response({"status": 200})
