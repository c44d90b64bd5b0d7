"""API authentication (an organization's key), its tenant context, and the per-key rate limit."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from accounts.api_keys import api_key_authenticate
from accounts.models import ApiKey, Organization


@dataclass
class ApiClient:
    """Who is calling: an organization, through one of its keys (DRF's ``request.user``)."""

    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False

    @property
    def organization(self) -> Organization:
        return self.api_key.organization

    @property
    def pk(self) -> int:
        return self.api_key.pk


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer mla_...``: a key of the organization whose data is served."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise exceptions.AuthenticationFailed("Use Authorization: Bearer <API key>.")
        api_key = api_key_authenticate(key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        return ApiClient(api_key), api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization's API key (`mla_...`), created in the admin.",
        }


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """At most ``API_RATE_LIMIT`` requests per key; over it, 429 with ``Retry-After``."""

    scope = "api_key"

    def get_rate(self) -> str:
        return settings.API_RATE_LIMIT

    def parse_rate(self, rate):
        count, _, period = rate.partition("/")
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0]]
        return int(count), seconds

    def get_cache_key(self, request, view):
        if not isinstance(request.user, ApiClient):
            return None
        return f"throttle:api:{request.user.api_key.public_id}"
