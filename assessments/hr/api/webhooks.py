"""API for webhook endpoints: list, subscribe (the secret is shown once), read, change,
delete. Deliveries are signed as docs/webhooks.md describes."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from assessments.core.models import Event
from assessments.hr.api.base import (
    ApiView,
    CreatedCursorPagination,
    PageParametersSerializer,
    StrictSerializer,
)
from assessments.hr.api.serializers import page_serializer_of
from assessments.hr.api.views import error_responses
from assessments.hr.webhooks.models import WebhookEndpoint
from assessments.hr.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
)

# --- serializers ---------------------------------------------------------------------------


class WebhookSerializer(serializers.Serializer):
    """A URL subscribed to events, and whether the platform is still sending to it."""

    id = serializers.UUIDField(source="public_id")
    url = serializers.URLField()
    description = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.Type.choices))
    enabled = serializers.BooleanField(
        help_text="False when switched off, or disabled by the platform (see disabled_reason)."
    )
    disabled_at = serializers.DateTimeField(
        allow_null=True, help_text="When the platform disabled it (it kept failing, or 410)."
    )
    disabled_reason = serializers.CharField(help_text="Why the platform disabled it.")
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="Start of the current run of failed attempts, if any."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookCreatedSerializer(WebhookSerializer):
    """A new subscription, with the secret that verifies its signatures (shown once)."""

    secret = serializers.CharField(
        help_text="`whsec_...`: verifies signatures. Shown in this answer only: store it."
    )


class WebhookCreateSerializer(StrictSerializer):
    """The URL to send events to, and which events."""

    url = serializers.URLField(
        max_length=2000, help_text="http(s); must resolve to a public address."
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.Type.choices), min_length=1
    )
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )


class WebhookUpdateSerializer(StrictSerializer):
    """What to change; fields left out stay as they are."""

    url = serializers.URLField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.Type.choices), min_length=1, required=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    enabled = serializers.BooleanField(
        required=False, help_text="true enables it again and forgets its failures."
    )


class WebhookFilterSerializer(PageParametersSerializer):
    """The page parameters of the webhook list."""


WebhookPageSerializer = page_serializer_of(WebhookSerializer, "WebhookPageSerializer")


# --- views ---------------------------------------------------------------------------------


def _service_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


def _endpoint(webhook_id) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint.objects.all(), public_id=webhook_id)


CREATE_EXAMPLE = {
    "url": "https://hr.example.com/hooks/ml-assess",
    "events": ["invitation.completed", "badge.awarded"],
    "description": "Greenhouse sync",
}


class WebhookListView(ApiView):
    @extend_schema(
        operation_id="webhooks_list",
        summary="List webhook endpoints, newest first (cursor pagination)",
        description="Your organization's subscriptions, without their secrets.",
        parameters=[WebhookFilterSerializer],
        responses={200: WebhookPageSerializer, **error_responses(400, 401, 429)},
        tags=["webhooks"],
    )
    def get(self, request):
        WebhookFilterSerializer(data=request.query_params.dict()).is_valid(raise_exception=True)
        paginator = CreatedCursorPagination()
        page = paginator.paginate_queryset(WebhookEndpoint.objects.all(), request, view=self)
        return paginator.get_paginated_response(WebhookSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe a URL to events; the answer holds its secret, once",
        description=(
            "The URL must be http(s) and resolve to public addresses only. Store the "
            "`secret` of the answer: it verifies the signature of every delivery."
        ),
        request=WebhookCreateSerializer,
        responses={201: WebhookCreatedSerializer, **error_responses(400, 401, 429)},
        examples=[OpenApiExample("Subscribe", value=CREATE_EXAMPLE, request_only=True)],
        tags=["webhooks"],
    )
    def post(self, request):
        serializer = WebhookCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            endpoint = webhook_endpoint_create(
                organization=self.organization,
                url=data["url"],
                events=data["events"],
                description=data["description"],
                actor=None,
            )
        except DjangoValidationError as exc:
            raise _service_errors(exc) from exc
        return Response(WebhookCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(ApiView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="One webhook endpoint (without its secret)",
        description="The subscription with this id, and whether the platform disabled it.",
        responses={200: WebhookSerializer, **error_responses(401, 404, 429)},
        tags=["webhooks"],
    )
    def get(self, request, webhook_id):
        return Response(WebhookSerializer(_endpoint(webhook_id)).data)

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change the URL, events, description, or switch it on or off",
        description="Switching it on again forgets the failures that disabled it.",
        request=WebhookUpdateSerializer,
        responses={200: WebhookSerializer, **error_responses(400, 401, 404, 429)},
        tags=["webhooks"],
    )
    def patch(self, request, webhook_id):
        endpoint = _endpoint(webhook_id)
        serializer = WebhookUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint = webhook_endpoint_update(
                endpoint=endpoint, actor=None, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise _service_errors(exc) from exc
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        summary="Delete a webhook endpoint and its delivery log",
        description="Nothing more is sent to it, and its delivery log is deleted.",
        responses={204: None, **error_responses(401, 404, 429)},
        tags=["webhooks"],
    )
    def delete(self, request, webhook_id):
        webhook_endpoint_delete(endpoint=_endpoint(webhook_id), actor=None)
        return Response(status=status.HTTP_204_NO_CONTENT)
