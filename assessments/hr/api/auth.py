"""API authentication (an organization's key), the per-key rate limit, and the limit on failed
authentications per client address."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from accounts.api_keys import api_key_authenticate
from accounts.models import ApiKey, Organization
from assessments.hr.api.ratelimit import Rate, rate_window_count, rate_window_read


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


class ApiKeyRateThrottle(throttling.BaseThrottle):
    """At most ``API_RATE_LIMIT`` requests per key and window; over it, 429 with
    ``Retry-After`` (the seconds left in the window)."""

    def allow_request(self, request, view) -> bool:
        if not isinstance(request.user, ApiClient):
            return True
        rate = Rate.parse(settings.API_RATE_LIMIT)
        window = rate_window_count(f"key:{request.user.api_key.public_id}", rate)
        self._wait = window.seconds_left
        return window.count <= rate.limit

    def wait(self) -> float:
        return self._wait


@contextmanager
def authentication_failures_guard(request) -> Iterator[None]:
    """Count failed authentications (no, malformed, unknown or revoked credentials) per client
    address; once an address is over ``API_AUTH_FAILURE_LIMIT``, refuse its requests with 429
    before any key is checked, until the window ends."""
    rate = Rate.parse(settings.API_AUTH_FAILURE_LIMIT)
    key = f"auth-failures:{throttling.BaseThrottle().get_ident(request)}"
    window = rate_window_read(key, rate)
    if window.count >= rate.limit:
        raise exceptions.Throttled(wait=window.seconds_left)
    try:
        yield
    except exceptions.AuthenticationFailed:
        rate_window_count(key, rate)
        raise
    if request.user is None:
        rate_window_count(key, rate)
